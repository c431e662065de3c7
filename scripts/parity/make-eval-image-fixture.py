#!/usr/bin/python3
"""Writes the image-file parity fixture: torchvision's eval transform and resnet18 on real image files.

Run with Debian's Python (/usr/bin/python3, where scripts/install-python-reference.sh puts torch):

    /usr/bin/python3 scripts/parity/make-eval-image-fixture.py --out DIR [--num-classes 5] [--image-size 224]

DIR receives:
  weights.safetensors   the seeded model's state_dict without its `num_batches_tracked` entries, as many
                        exported checkpoints come
  *.png, *.jpg          generated images of several shapes and modes (RGB, greyscale; larger and smaller
                        than the resize, so both downscaling with antialias and upscaling are exercised)
  expected.safetensors  per image: `pixels.<file>` (the transform's output, HWC float32) and `logits.<file>`
                        (the eval-mode model on it), where the transform is ImageFolder's loader
                        (Image.open(f).convert("RGB")) then Resize(int(size * 256 / 224)), CenterCrop(size),
                        ToTensor(), Normalize(ImageNet mean, std)
"""
import argparse
import json
import os

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

from fixture_io import save_safetensors, seeded_resnet18

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]

# name, width, height, PIL mode: landscape and portrait, downscaled by 1.2 to 2.5, one upscaled, one greyscale.
IMAGES = [
    ("landscape.png", 400, 300, "RGB"),
    ("portrait.jpg", 480, 640, "RGB"),
    ("small.png", 150, 200, "RGB"),
    ("grey.png", 300, 300, "L"),
]


def scene(width, height, rng):
    """Smooth gradients, hard-edged discs, one-pixel stripes and a patch of noise: the content on which
    resampling filters differ most, so any mismatch with PIL's shows."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 128 + 100 * np.sin(x / 17 + y / 31)
    green = 255 * x / width
    blue = 255 * y / height
    for _ in range(6):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(10, min(width, height) / 3)
        inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r
        colour = rng.uniform(0, 255, 3)
        red, green, blue = (np.where(inside, c, channel) for c, channel in zip(colour, (red, green, blue)))
    stripes = (x > width * 0.6) & (y < height * 0.3)
    red = np.where(stripes, 255 * (x.astype(int) % 2), red)
    noise = (x < width * 0.3) & (y > height * 0.7)
    green = np.where(noise, rng.uniform(0, 255, (height, width)), green)
    return np.clip(np.stack([red, green, blue], axis=-1), 0, 255).round().astype(np.uint8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--num-classes", type=int, default=5)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    model = seeded_resnet18(args.num_classes, args.seed).eval()
    state = {name: value for name, value in model.state_dict().items() if not name.endswith("num_batches_tracked")}
    save_safetensors(os.path.join(args.out, "weights.safetensors"), state)

    rng = np.random.RandomState(args.seed)
    for name, width, height, mode in IMAGES:
        image = Image.fromarray(scene(width, height, rng)).convert(mode)
        path = os.path.join(args.out, name)
        if name.endswith(".jpg"):
            image.save(path, quality=90)
        else:
            image.save(path)

    size = args.image_size
    transform = transforms.Compose([
        transforms.Resize(int(size * 256 / 224)),
        transforms.CenterCrop(size),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])
    expected = {}
    with torch.no_grad():
        for name, _, _, _ in IMAGES:
            with open(os.path.join(args.out, name), "rb") as f:
                pixels = transform(Image.open(f).convert("RGB"))
            expected[f"pixels.{name}"] = pixels.permute(1, 2, 0)
            expected[f"logits.{name}"] = model(pixels.unsqueeze(0))[0]
    save_safetensors(os.path.join(args.out, "expected.safetensors"), expected)
    print(json.dumps({"out": args.out, "images": [name for name, *_ in IMAGES], "torch": torch.__version__, "torchvision": torchvision.__version__}))


if __name__ == "__main__":
    main()
