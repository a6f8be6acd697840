"""LLVM backend: loops dialect → LLVM IR (llvmlite.ir), vector math, target machines, JIT."""
