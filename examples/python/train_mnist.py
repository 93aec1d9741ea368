"""LeNet on MNIST with integer-only arithmetic (NITI): train, then print the test accuracy.

    python3 examples/python/train_mnist.py [DATA_DIR] [EPOCHS]

DATA_DIR holds mnist/ (train-images-idx3-ubyte.gz, ...; default $NITI_DATA, else ./data). The
device is $NITI_DEVICE, else the first GPU, the first CPU, then ref. The same run as
`niti train --model lenet --dataset mnist --data DATA_DIR --epochs EPOCHS`, bit for bit."""
import sys

import niti

data = sys.argv[1] if len(sys.argv) > 1 else None
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else None  # None: LeNet's default, 5

net = niti.Net("lenet", seed=1)  # batch 64, mu 4,3:3,4:2, rule niti21: the CLI's defaults
print("training LeNet on", net.device)
report = lambda epoch, m: print("epoch %d: train loss %.4f, train accuracy %.2f%%"
                                % (epoch, m["train_loss"], 100 * m["train_acc"]))
result = net.fit("mnist", data=data, epochs=epochs, callback=report)
print("test accuracy: %.2f%% (%d/%d)"
      % (100 * result["test_acc"], result["test_correct"], result["test_total"]))
