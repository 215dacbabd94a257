"""`govloop bench eta`: the hall's wait estimates scored against simulated days.

``scenario`` reads and checks the YAML files, ``simulate`` drives the real hall services in
virtual time, ``metrics`` scores the estimates, ``run`` ties them together.
"""
