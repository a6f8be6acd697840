"""The model of the "TensorFlow mechanics 101" tutorial, written for tensorkiln: a two-hidden-layer MLP.

The graph is built in four functions, as in TF 1.x's tutorial ``mnist.py``:

1. ``inference(images, hidden1_units, hidden2_units)`` — the forward pass up to the logits;
2. ``loss(logits, labels)`` — mean sparse softmax cross-entropy;
3. ``training(loss, learning_rate)`` — a loss summary, a ``global_step`` and one SGD step;
4. ``evaluation(logits, labels)`` — how many of the batch are right (top-1).

``fully_connected_feed.py`` beside this file trains it.
"""
from __future__ import absolute_import, division, print_function

import math

import tensorkiln.compat.v1 as tf

# Ten classes, 28x28 grey images.
NUM_CLASSES = 10
IMAGE_SIZE = 28
IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE


def _layer(inputs, in_units, out_units, activation):
    """Weights from a truncated normal of stddev 1/sqrt(fan-in), zero biases."""
    weights = tf.Variable(
        tf.truncated_normal([in_units, out_units], stddev=1.0 / math.sqrt(float(in_units))),
        name='weights')
    biases = tf.Variable(tf.zeros([out_units]), name='biases')
    return activation(tf.matmul(inputs, weights) + biases)


def inference(images, hidden1_units, hidden2_units):
    """Build the model up to where it may be used for inference.

    Args:
        images: images placeholder, [batch, IMAGE_PIXELS] float32.
        hidden1_units: size of the first hidden layer.
        hidden2_units: size of the second hidden layer.

    Returns:
        logits: [batch, NUM_CLASSES] float32 tensor.
    """
    with tf.name_scope('hidden1'):
        hidden1 = _layer(images, IMAGE_PIXELS, hidden1_units, tf.nn.relu)
    with tf.name_scope('hidden2'):
        hidden2 = _layer(hidden1, hidden1_units, hidden2_units, tf.nn.relu)
    with tf.name_scope('softmax_linear'):
        logits = _layer(hidden2, hidden2_units, NUM_CLASSES, tf.identity)
    return logits


def loss(logits, labels):
    """Mean cross-entropy of the logits against the integer labels.

    Args:
        logits: [batch, NUM_CLASSES] float32.
        labels: [batch] int32 class indices.

    Returns:
        A scalar float32 tensor.
    """
    labels = tf.to_int64(labels)
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=logits, name='xentropy')
    return tf.reduce_mean(cross_entropy, name='xentropy_mean')


def training(loss, learning_rate):
    """The op that takes one gradient-descent step, counting steps in ``global_step``.

    Also records the loss for TensorBoard.

    Args:
        loss: the scalar loss from loss().
        learning_rate: the gradient-descent step size.

    Returns:
        train_op: run it once per batch.
    """
    tf.summary.scalar('loss', loss)
    optimizer = tf.train.GradientDescentOptimizer(learning_rate)
    global_step = tf.Variable(0, name='global_step', trainable=False)
    train_op = optimizer.minimize(loss, global_step=global_step)
    return train_op


def evaluation(logits, labels):
    """How many examples of the batch have their label as the top prediction.

    Args:
        logits: [batch, NUM_CLASSES] float32.
        labels: [batch] int32 class indices.

    Returns:
        A scalar int32 tensor: the count of correct predictions.
    """
    correct = tf.nn.in_top_k(logits, labels, 1)
    return tf.reduce_sum(tf.cast(correct, tf.int32))
