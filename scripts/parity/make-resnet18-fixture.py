#!/usr/bin/python3
"""Writes a parity fixture for @ringtrain/model from the real torchvision resnet18.

Run with Debian's Python (/usr/bin/python3, where scripts/install-python-reference.sh puts torch):

    /usr/bin/python3 scripts/parity/make-resnet18-fixture.py --out DIR [--num-classes 5] [--image-size 64]

DIR receives three safetensors files (written by hand: Debian has no python3-safetensors):
  weights.safetensors     the seeded model's state_dict (batch-norm affine parameters and running
                          statistics randomised, so that eval mode exercises them)
  inputs.safetensors      images (NHWC float32), labels (int64), eval_logits, train_loss
  after-step.safetensors  the state_dict after one SGD step (lr 0.1, momentum 0.9) in train mode
"""
import argparse
import json
import os

import torch
import torchvision

from fixture_io import save_safetensors, seeded_resnet18


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--num-classes", type=int, default=5)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    model = seeded_resnet18(args.num_classes, args.seed)
    save_safetensors(os.path.join(args.out, "weights.safetensors"), model.state_dict())

    images = torch.randn(args.batch, 3, args.image_size, args.image_size)
    labels = torch.randint(0, args.num_classes, (args.batch,))
    model.eval()
    with torch.no_grad():
        eval_logits = model(images)

    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    save_safetensors(os.path.join(args.out, "after-step.safetensors"), model.state_dict())
    save_safetensors(
        os.path.join(args.out, "inputs.safetensors"),
        {
            "images": images.permute(0, 2, 3, 1),
            "labels": labels,
            "eval_logits": eval_logits,
            "train_loss": loss.detach().reshape(1),
        },
    )
    print(json.dumps({"out": args.out, "torch": torch.__version__, "torchvision": torchvision.__version__}))


if __name__ == "__main__":
    main()
