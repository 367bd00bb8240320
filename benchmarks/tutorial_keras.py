"""The TensorFlow tutorial "Basic classification: Classify images of clothing", as-is.

This is the reference every attire speed target is a ratio against, so the
tutorial's own lines below are left as the tutorial has them. What differs, and why:
- 20 epochs instead of the tutorial's 10: the benchmark issue fixes the recipe at 20.
- No matplotlib plots, and not the tutorial's one-image example: the benchmark
  covers loading, training, `evaluate` and `predict(test_images)`.
- Two perf_counter() calls around the tutorial's `predict`, and one `RESULT {json}`
  line at the end for benchmarks/run.py to parse.
- `--inference` (used only by the inference section, after the tutorial has run):
  more predict calls to measure warm throughput and one-image latency.
- ATTIRE_BENCH_SMOKE=1 (set only by `run.py --smoke`): 1 epoch on 2,000 images.

Data comes through `tf.keras.datasets.fashion_mnist.load_data()` unmodified; run.py
places the files in $KERAS_HOME/datasets/fashion-mnist/ first, so nothing downloads.
Run with the TensorFlow venv: `.bench/tf-venv/bin/python benchmarks/tutorial_keras.py`.
"""

import argparse
import json
import os
import statistics
import time

import numpy as np
import tensorflow as tf

SMOKE = os.environ.get("ATTIRE_BENCH_SMOKE") == "1"
EPOCHS = 1 if SMOKE else 20
SMOKE_TRAIN_IMAGES = 2000

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--inference", action="store_true",
                    help="after the tutorial, also measure warm throughput and one-image latency")
parser.add_argument("--single-calls", type=int, default=200,
                    help="one-image predict calls timed for the latency median (default: 200)")
parser.add_argument("--warm-repeats", type=int, default=3,
                    help="warm predict(test_images) calls timed for the throughput median (default: 3)")
args = parser.parse_args()

# ---- the tutorial ------------------------------------------------------------------

fashion_mnist = tf.keras.datasets.fashion_mnist

(train_images, train_labels), (test_images, test_labels) = fashion_mnist.load_data()

class_names = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
               'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']

train_images = train_images / 255.0

test_images = test_images / 255.0

if SMOKE:
    train_images, train_labels = train_images[:SMOKE_TRAIN_IMAGES], train_labels[:SMOKE_TRAIN_IMAGES]

model = tf.keras.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(128, activation='relu'),
    tf.keras.layers.Dense(10)
])

model.compile(optimizer='adam',
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])

model.fit(train_images, train_labels, epochs=EPOCHS)

test_loss, test_acc = model.evaluate(test_images,  test_labels, verbose=2)

print('\nTest accuracy:', test_acc)

probability_model = tf.keras.Sequential([model,
                                         tf.keras.layers.Softmax()])

predict_start = time.perf_counter()
predictions = probability_model.predict(test_images)
predict_seconds = time.perf_counter() - predict_start

# ---- measurements for the benchmark ----------------------------------------------


def median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


n_test = len(test_images)
result = {
    "test_accuracy": float(test_acc),
    "test_loss": float(test_loss),
    "epochs": EPOCHS,
    "n_train": int(len(train_images)),
    "smoke": SMOKE,
    # The tutorial's one predict(test_images) call: first call, tracing included.
    "predict_seconds": predict_seconds,
    "predict_images_per_s": n_test / predict_seconds,
    "predictions_accuracy": float(np.mean(np.argmax(predictions, axis=1) == test_labels)),
    "tensorflow": tf.__version__,
    "keras": tf.keras.__version__ if hasattr(tf.keras, "__version__") else None,
}

if args.inference:
    # predict() is what the tutorial uses (batches of 32); a direct call is Keras's
    # fastest path (one batch). Both are reported so neither side is a straw man.
    warm_predict = median_seconds(lambda: probability_model.predict(test_images, verbose=0),
                                  args.warm_repeats)
    probability_model(test_images, training=False)  # trace the direct call once
    warm_call = median_seconds(lambda: probability_model(test_images, training=False),
                               args.warm_repeats)
    single_images = [np.expand_dims(test_images[i % n_test], 0) for i in range(args.single_calls)]
    for img in single_images[:5]:  # warm up both one-image paths
        probability_model.predict(img, verbose=0)
        probability_model(img, training=False)
    predict_ms, call_ms = [], []
    for img in single_images:
        start = time.perf_counter()
        probability_model.predict(img, verbose=0)
        predict_ms.append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        probability_model(img, training=False).numpy()
        call_ms.append(1000 * (time.perf_counter() - start))
    result.update({
        "warm_predict_seconds": warm_predict,
        "warm_predict_images_per_s": n_test / warm_predict,
        "warm_call_seconds": warm_call,
        "warm_call_images_per_s": n_test / warm_call,
        "single_image_ms": statistics.median(predict_ms),
        "single_image_call_ms": statistics.median(call_ms),
        "single_calls": args.single_calls,
    })

print("RESULT " + json.dumps(result), flush=True)
