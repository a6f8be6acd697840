"""The compiler layer: front ends (graph API and DSL → graph-dialect IR), autodiff, passes and the pass pipeline."""
