"""Your own data and your own training loop: NumPy uint8 images in, quantise, train step by
step, evaluate, save a checkpoint and load it back.

    python3 examples/python/own_data.py [CHECKPOINT]

The task: 16x16 grey images holding a bright bar on a noisy background, horizontal (class 0),
vertical (class 1) or diagonal (class 2), at a random place. The device is $NITI_DEVICE, else
the default (first GPU, first CPU, then ref)."""
import sys

import numpy as np

import niti

rng = np.random.default_rng(0)


def make_images(n):
    """n uint8 images [n,16,16,1] and their labels."""
    x = rng.integers(0, 60, size=(n, 16, 16, 1), dtype=np.uint8)
    y = rng.integers(0, 3, size=n)
    for i in range(n):
        p, q = rng.integers(2, 14, size=2)
        for k in range(-2, 3):
            r, c = [(p, q + k), (p + k, q), (p + k, q + k)][y[i]]
            x[i, r, c, 0] = 255
    return x, y


x_train8, y_train = make_images(4096)
x_test8, y_test = make_images(1024)

# The network's input: int8 at exponent -5 (contract section 10), normalised by the training
# set's mean and standard deviation (in units of the 0..1 pixel range).
mean, std = x_train8.mean() / 255, x_train8.std() / 255
x_train = niti.quantize_images(x_train8, mean, std)
x_test = niti.quantize_images(x_test8, mean, std)

net = niti.Net("input 16x16x1; conv 16 k3 p1; relu; maxpool 2; conv 32 k3 p1; relu; maxpool 2;"
               "flatten; linear 3", batch=64, mu=2, seed=1)
print("%s on %s, %d weights" % (net.model, net.device, net.params))
for epoch in range(3):
    order = rng.permutation(len(x_train))
    losses = [net.train_step(x_train[idx], y_train[idx])  # one step; t advances by itself
              for idx in (order[i:i + net.batch] for i in range(0, len(order), net.batch))]
    r = net.evaluate(x_test, y_test)
    print("epoch %d: mean loss %.3f, test accuracy %.2f%%, per class %s"
          % (epoch + 1, np.mean(losses), 100 * r["accuracy"],
             np.round(100 * r["per_class_accuracy"], 1)))

path = sys.argv[1] if len(sys.argv) > 1 else "own_data.safetensors"
net.save(path)
again = niti.Net.load(path, device="ref")  # any device gives the same bits
assert (again.predict(x_test) == net.predict(x_test)).all()
logits, exp = again.forward(x_test[:4])
print("saved %s; the reloaded network (on ref) agrees; logits of 4 images (x 2^%d):\n%s"
      % (path, exp, logits))
