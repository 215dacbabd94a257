"""邮寄快递: results by post. ``base`` the courier interface, ``sf`` SF Express's open
platform, ``simulator`` a local courier that speaks SF's protocol, ``registry`` the
configured one (``GOVLOOP_COURIER_*``), ``shipping`` and ``tracking`` the rules,
``callback_api`` the push endpoint, ``jobs`` the simulator's pushes as a timed duty."""
