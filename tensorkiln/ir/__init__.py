"""The IR layer: types, SSA structures, dialects, verifier, printer and parser. Imports nothing of ours."""
