"""TF 1.x's "Deep MNIST for experts" tutorial program, written for tensorkiln: a small convnet.

conv 5x5x32 + ReLU, 2x2 max-pool, conv 5x5x64 + ReLU, 2x2 max-pool, fully connected 1024 + ReLU,
dropout, fully connected 10; Adam at 1e-4 on batches of 50. Every 100 steps it prints the training
accuracy on the current batch, at the end the test accuracy. The graph is written for TensorBoard
to a fresh temporary directory. TF-1 code throughout: only the two tensorkiln imports differ from
what TensorFlow 1.x would run. The data are Fashion-MNIST.

    python examples/tutorials/mnist_deep.py [--data_dir DIR] [--steps 20000]
"""
from __future__ import absolute_import, division, print_function

import argparse
import sys
import tempfile

import tensorkiln.compat.v1 as tf
from tensorkiln.datasets import mnist as input_data

FLAGS = None


def deepnn(x):
    """The convnet from flat images to class scores.

    Args:
        x: [N, 784] float32, the flattened 28x28 grey images.

    Returns:
        (y_conv, keep_prob): the [N, 10] logits, and the scalar placeholder for the probability
        of keeping a unit in the dropout layer (feed 0.5 to train, 1.0 to evaluate).
    """
    # Back to images: [N, height, width, channels].
    with tf.name_scope('reshape'):
        x_image = tf.reshape(x, [-1, 28, 28, 1])

    # First convolution: one grey channel to 32 feature maps.
    with tf.name_scope('conv1'):
        W_conv1 = weight_variable([5, 5, 1, 32])
        b_conv1 = bias_variable([32])
        h_conv1 = tf.nn.relu(conv2d(x_image, W_conv1) + b_conv1)

    # 28x28 -> 14x14.
    with tf.name_scope('pool1'):
        h_pool1 = max_pool_2x2(h_conv1)

    # Second convolution: 32 maps to 64.
    with tf.name_scope('conv2'):
        W_conv2 = weight_variable([5, 5, 32, 64])
        b_conv2 = bias_variable([64])
        h_conv2 = tf.nn.relu(conv2d(h_pool1, W_conv2) + b_conv2)

    # 14x14 -> 7x7.
    with tf.name_scope('pool2'):
        h_pool2 = max_pool_2x2(h_conv2)

    # 7x7x64 features to 1024 hidden units.
    with tf.name_scope('fc1'):
        W_fc1 = weight_variable([7 * 7 * 64, 1024])
        b_fc1 = bias_variable([1024])
        h_pool2_flat = tf.reshape(h_pool2, [-1, 7 * 7 * 64])
        h_fc1 = tf.nn.relu(tf.matmul(h_pool2_flat, W_fc1) + b_fc1)

    # Dropout against over-fitting, switched off at test time through keep_prob.
    with tf.name_scope('dropout'):
        keep_prob = tf.placeholder(tf.float32)
        h_fc1_drop = tf.nn.dropout(h_fc1, keep_prob)

    # 1024 units to the 10 class scores.
    with tf.name_scope('fc2'):
        W_fc2 = weight_variable([1024, 10])
        b_fc2 = bias_variable([10])
        y_conv = tf.matmul(h_fc1_drop, W_fc2) + b_fc2
    return y_conv, keep_prob


def conv2d(x, W):
    """Stride-1 convolution; SAME padding keeps the spatial size."""
    return tf.nn.conv2d(x, W, strides=[1, 1, 1, 1], padding='SAME')


def max_pool_2x2(x):
    """Halve height and width, keeping the largest of each 2x2 block."""
    return tf.nn.max_pool(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding='SAME')


def weight_variable(shape):
    """Weights from a truncated normal of stddev 0.1."""
    initial = tf.truncated_normal(shape, stddev=0.1)
    return tf.Variable(initial)


def bias_variable(shape):
    """Biases of 0.1, so that the ReLUs start out active."""
    initial = tf.constant(0.1, shape=shape)
    return tf.Variable(initial)


def main(_):
    mnist = input_data.read_data_sets(FLAGS.data_dir or None, one_hot=True)

    x = tf.placeholder(tf.float32, [None, 784])
    y_ = tf.placeholder(tf.float32, [None, 10])
    y_conv, keep_prob = deepnn(x)

    with tf.name_scope('loss'):
        cross_entropy = tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y_conv)
    cross_entropy = tf.reduce_mean(cross_entropy)

    with tf.name_scope('adam_optimizer'):
        train_step = tf.train.AdamOptimizer(1e-4).minimize(cross_entropy)

    with tf.name_scope('accuracy'):
        correct_prediction = tf.equal(tf.argmax(y_conv, 1), tf.argmax(y_, 1))
        correct_prediction = tf.cast(correct_prediction, tf.float32)
    accuracy = tf.reduce_mean(correct_prediction)

    graph_location = tempfile.mkdtemp()
    print('Saving graph to: %s' % graph_location)
    train_writer = tf.summary.FileWriter(graph_location)
    train_writer.add_graph(tf.get_default_graph())
    train_writer.close()

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(FLAGS.steps):
            batch = mnist.train.next_batch(50)
            if i % 100 == 0:
                train_accuracy = accuracy.eval(feed_dict={
                    x: batch[0], y_: batch[1], keep_prob: 1.0})
                print('step %d, training accuracy %g' % (i, train_accuracy))
            train_step.run(feed_dict={x: batch[0], y_: batch[1], keep_prob: 0.5})

        # The test set in slices of --test_batch_size images, to bound the activations' memory.
        test = mnist.test
        n = test.num_examples if FLAGS.test_size <= 0 else min(FLAGS.test_size, test.num_examples)
        correct = 0.0
        for start in range(0, n, FLAGS.test_batch_size):
            stop = min(start + FLAGS.test_batch_size, n)
            correct += (stop - start) * accuracy.eval(feed_dict={
                x: test.images[start:stop], y_: test.labels[start:stop], keep_prob: 1.0})
        print('test accuracy %g' % (correct / n))


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--data_dir', type=str, default='',
                        help='Directory with the IDX files (default: the system '
                             'Fashion-MNIST, else the subset shipped with tensorkiln)')
    parser.add_argument('--steps', type=int, default=20000,
                        help='Number of training steps (batches of 50).')
    parser.add_argument('--test_batch_size', type=int, default=1000,
                        help='Test images evaluated per Session.run.')
    parser.add_argument('--test_size', type=int, default=0,
                        help='Evaluate on the first N test images only (0: all of them).')
    FLAGS, unparsed = parser.parse_known_args()
    tf.app.run(main=main, argv=[sys.argv[0]] + unparsed)
