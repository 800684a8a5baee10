"""People and access: users and sign-in, API tokens, who may change what, and the web wiring."""
