"""Shared by the parity fixture scripts: the seeded torchvision resnet18 they compare against, and a
safetensors writer (Debian bookworm has no python3-safetensors)."""
import json
import os
import struct

import torch
import torchvision

DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.uint8: "U8"}


def seeded_resnet18(num_classes, seed):
    """torchvision's resnet18 with batch-norm affine parameters and running statistics randomised, so that
    eval mode exercises them (a fresh model's are 1, 0, 0, 1)."""
    torch.manual_seed(seed)
    model = torchvision.models.resnet18(num_classes=num_classes)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return model


def save_safetensors(path, tensors, metadata=None):
    assert struct.pack("=I", 1) == struct.pack("<I", 1), "this writer assumes a little-endian machine"
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, tensor in tensors.items():
        tensor = tensor.detach().contiguous().cpu()
        data = tensor.numpy().tobytes()  # native order; x86/arm64 are little-endian like the format
        header[name] = {"dtype": DTYPES[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for chunk in chunks:
            f.write(chunk)
    os.replace(tmp, path)
