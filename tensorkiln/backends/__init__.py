"""Back ends: ``llvm`` (loop dialect → LLVM IR, JIT and AOT) and ``reference`` (a numpy interpreter
of the graph dialect used only to check the compiler)."""
