"""govloop — digital operations platform for government service centers."""

__version__ = "0.1.0"
