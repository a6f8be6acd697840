"""Front ends: turn user programs (the Python graph API, the text DSL) into graph-dialect IR."""
