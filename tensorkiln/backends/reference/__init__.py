"""The reference back end: a numpy interpreter of the ``graph`` dialect, used by tests and constant
folding to check the compiler. Never on the execution path of compiled programs."""
from .interpreter import InterpreterError, evaluate_op, run_function, supported_ops
from . import nn  # noqa: E402,F401  (registers convolution and pooling)
from . import checks  # noqa: E402,F401  (registers check_numerics)

__all__ = ["InterpreterError", "evaluate_op", "run_function", "supported_ops"]
