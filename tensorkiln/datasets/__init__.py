"""Data sets for examples and tests: MNIST-format IDX files and TF-1-style mini-batching.

``tk.datasets.mnist.read_data_sets(train_dir)`` has the interface of TensorFlow 1's tutorial
``input_data``; ``tk.datasets.idx`` reads and writes the IDX files it is built on. A small
Fashion-MNIST subset ships with the package so that examples run offline. numpy is used freely
here: loading data is not on the compiled execution path.
"""
from . import idx, mnist
from .idx import IdxFormatError, read_idx, write_idx
from .mnist import DataSet, Datasets, read_data_sets

# Keras-style alias: tk.datasets.fashion_mnist.load_data()
fashion_mnist = mnist

__all__ = ["idx", "mnist", "fashion_mnist", "IdxFormatError", "read_idx", "write_idx", "DataSet",
           "Datasets", "read_data_sets"]
