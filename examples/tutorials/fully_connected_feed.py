"""The "TensorFlow mechanics 101" training program, written for tensorkiln: feeds, steps, evaluation.

Trains the MLP of ``mnist.py`` (beside this file) with placeholders fed one batch at a time. Every
100 steps it prints the loss and writes the summaries for TensorBoard (``--log_dir``); every 1000
steps and at the end it saves a checkpoint and reports the precision on the training, validation and
test sets (``do_eval``). TF-1 code throughout: only the two tensorkiln imports differ from what
TensorFlow 1.x would run. The data are Fashion-MNIST.

    python examples/tutorials/fully_connected_feed.py [--max_steps 2000] [--log_dir DIR] [--fake_data]
"""
from __future__ import absolute_import, division, print_function

import os
import time

import tensorkiln.compat.v1 as tf
from tensorkiln.datasets import mnist as input_data

import mnist  # the tutorial's model, beside this file

flags = tf.app.flags
FLAGS = flags.FLAGS
flags.DEFINE_float('learning_rate', 0.01, 'Initial learning rate.')
flags.DEFINE_integer('max_steps', 2000, 'Number of steps to run trainer.')
flags.DEFINE_integer('hidden1', 128, 'Number of units in hidden layer 1.')
flags.DEFINE_integer('hidden2', 32, 'Number of units in hidden layer 2.')
flags.DEFINE_integer('batch_size', 100, 'Batch size. Must divide evenly into the dataset sizes.')
flags.DEFINE_string('input_data_dir', '',
                    'Directory with the input data (default: the system Fashion-MNIST, '
                    'else the subset shipped with tensorkiln).')
flags.DEFINE_string('log_dir',
                    os.path.join(os.getenv('TEST_TMPDIR', '/tmp'),
                                 'tensorkiln/mnist/logs/fully_connected_feed'),
                    'Directory to put the log data.')
flags.DEFINE_boolean('fake_data', False, 'If true, uses fake data for unit testing.')


def placeholder_inputs(batch_size):
    """Placeholders for one batch of images and labels (a fixed batch size, as the tutorial has it).

    Returns:
        images_placeholder: [batch_size, IMAGE_PIXELS] float32.
        labels_placeholder: [batch_size] int32.
    """
    images_placeholder = tf.placeholder(tf.float32, shape=(batch_size, mnist.IMAGE_PIXELS))
    labels_placeholder = tf.placeholder(tf.int32, shape=(batch_size))
    return images_placeholder, labels_placeholder


def fill_feed_dict(data_set, images_pl, labels_pl):
    """The feed for the next batch of ``data_set``: ``{placeholder: array}``."""
    images_feed, labels_feed = data_set.next_batch(FLAGS.batch_size, FLAGS.fake_data)
    return {images_pl: images_feed, labels_pl: labels_feed}


def do_eval(sess, eval_correct, images_placeholder, labels_placeholder, data_set):
    """Run one full epoch of ``data_set`` through ``eval_correct`` and print the precision @ 1."""
    true_count = 0
    steps_per_epoch = data_set.num_examples // FLAGS.batch_size
    num_examples = steps_per_epoch * FLAGS.batch_size
    for _ in range(steps_per_epoch):
        feed_dict = fill_feed_dict(data_set, images_placeholder, labels_placeholder)
        true_count += sess.run(eval_correct, feed_dict=feed_dict)
    precision = float(true_count) / num_examples if num_examples else 0.0
    print('  Num examples: %d  Num correct: %d  Precision @ 1: %0.04f' %
          (num_examples, true_count, precision))


def run_training():
    """Build the graph, train for --max_steps, checkpoint and evaluate along the way."""
    data_sets = input_data.read_data_sets(FLAGS.input_data_dir or None, FLAGS.fake_data)

    with tf.Graph().as_default():
        images_placeholder, labels_placeholder = placeholder_inputs(FLAGS.batch_size)
        logits = mnist.inference(images_placeholder, FLAGS.hidden1, FLAGS.hidden2)
        loss = mnist.loss(logits, labels_placeholder)
        train_op = mnist.training(loss, FLAGS.learning_rate)
        eval_correct = mnist.evaluation(logits, labels_placeholder)

        summary = tf.summary.merge_all()
        init = tf.global_variables_initializer()
        saver = tf.train.Saver()
        sess = tf.Session()
        summary_writer = tf.summary.FileWriter(FLAGS.log_dir, sess.graph)
        sess.run(init)

        for step in range(FLAGS.max_steps):
            start_time = time.time()
            feed_dict = fill_feed_dict(data_sets.train, images_placeholder, labels_placeholder)
            _, loss_value = sess.run([train_op, loss], feed_dict=feed_dict)
            duration = time.time() - start_time

            if step % 100 == 0:
                print('Step %d: loss = %.2f (%.3f sec)' % (step, loss_value, duration))
                summary_str = sess.run(summary, feed_dict=feed_dict)
                summary_writer.add_summary(summary_str, step)
                summary_writer.flush()

            if (step + 1) % 1000 == 0 or (step + 1) == FLAGS.max_steps:
                checkpoint_file = os.path.join(FLAGS.log_dir, 'model.ckpt')
                saver.save(sess, checkpoint_file, global_step=step)
                print('Training Data Eval:')
                do_eval(sess, eval_correct, images_placeholder, labels_placeholder, data_sets.train)
                print('Validation Data Eval:')
                do_eval(sess, eval_correct, images_placeholder, labels_placeholder, data_sets.validation)
                print('Test Data Eval:')
                do_eval(sess, eval_correct, images_placeholder, labels_placeholder, data_sets.test)
        summary_writer.close()
        sess.close()


def main(_):
    if tf.gfile.Exists(FLAGS.log_dir):
        tf.gfile.DeleteRecursively(FLAGS.log_dir)
    tf.gfile.MakeDirs(FLAGS.log_dir)
    run_training()


if __name__ == '__main__':
    tf.app.run()
