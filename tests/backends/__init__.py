"""Real servers for the tests: started once per session on a free loopback port."""
