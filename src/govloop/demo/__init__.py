"""Demo data: generators and scenarios that fill a database the way a real center would.

No domain imports this package."""
