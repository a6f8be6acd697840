"""TF 1.x's "MNIST for ML beginners" tutorial program, written for tensorkiln: softmax regression.

A single linear layer ``y = x W + b`` trained with plain gradient descent (rate 0.5) on batches of
100 images, then its accuracy on the test set. The program is TF-1 code: apart from the two
imports below it would run unchanged under TensorFlow 1.x. The data are Fashion-MNIST (the system
copy, or the subset shipped with tensorkiln), not the handwritten digits.

        python examples/tutorials/mnist_softmax.py [--data_dir DIR] [--steps 1000]
"""
from __future__ import absolute_import, division, print_function

import argparse
import sys

import tensorkiln.compat.v1 as tf
from tensorkiln.datasets import mnist as input_data

FLAGS = None


def main(_):
    # Images as float vectors of 784 pixels in [0, 1]; labels one-hot.
    mnist = input_data.read_data_sets(FLAGS.data_dir or None, one_hot=True)

    # The model: logits = x W + b.
    x = tf.placeholder(tf.float32, [None, 784])
    W = tf.Variable(tf.zeros([784, 10]))
    b = tf.Variable(tf.zeros([10]))
    y = tf.matmul(x, W) + b

    # The loss: mean cross-entropy between the one-hot labels and softmax(logits).
    y_ = tf.placeholder(tf.float32, [None, 10])
    cross_entropy = tf.reduce_mean(
        tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y))
    train_step = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)

    sess = tf.InteractiveSession()
    tf.global_variables_initializer().run()
    for _ in range(FLAGS.steps):
        batch_xs, batch_ys = mnist.train.next_batch(100)
        sess.run(train_step, feed_dict={x: batch_xs, y_: batch_ys})

    # How often the most probable class is the right one, on images never trained on.
    correct_prediction = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
    accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
    print(sess.run(accuracy, feed_dict={x: mnist.test.images,
                                        y_: mnist.test.labels}))


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--data_dir', type=str, default='',
                        help='Directory with the IDX files (default: the system '
                             'Fashion-MNIST, else the subset shipped with tensorkiln)')
    parser.add_argument('--steps', type=int, default=1000,
                        help='Number of training steps (batches of 100).')
    FLAGS, unparsed = parser.parse_known_args()
    tf.app.run(main=main, argv=[sys.argv[0]] + unparsed)
