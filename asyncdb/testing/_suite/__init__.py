"""The conformance tests, one module per area; ``ConformanceSuite`` combines them."""
