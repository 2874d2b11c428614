"""Run the PyTorch reference on a case file, for side-by-side parity checks with the Swift port.

    /root/venv-ref/bin/python Tools/reference/run_case.py MODEL_DIR CASE.json OUT.safetensors [--grads] [--f32]

MODEL_DIR holds config.json (HF GLM field names, optional "gelu": "tanh"|"erf") and
model.safetensors or pytorch_model.bin (official keys; a leading glm./module./model. is stripped).
CASE.json is the case format of Tests/GLMTests/Fixtures (input_ids, position_ids, attention_mask with
mask_kind "sep" or "explicit", and optionally targets + loss_mask). Writes `logits`, `hidden.{i}`,
and with targets `loss` (and with --grads `grad.<key>`). Computes in float64 unless --f32.
"""

import argparse
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from glm_ref import GLMConfig, GLMModel, glm_loss  # noqa: E402


def load_model(folder: str, dtype) -> GLMModel:
    cfg = GLMConfig.from_json(os.path.join(folder, "config.json"))
    st = os.path.join(folder, "model.safetensors")
    sd = load_file(st) if os.path.exists(st) else torch.load(os.path.join(folder, "pytorch_model.bin"), weights_only=True)
    if "module" in sd and isinstance(sd["module"], dict):
        sd = sd["module"]

    def strip(k):
        while True:
            for p in ("glm.", "module.", "model."):
                if k.startswith(p):
                    k = k[len(p):]
                    break
            else:
                return k

    sd = {strip(k): v.to(torch.float32) for k, v in sd.items()}
    model = GLMModel(cfg)
    model.load_state_dict(sd, strict=True)
    return model.to(dtype).eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("case")
    ap.add_argument("out")
    ap.add_argument("--grads", action="store_true", help="also write grad.<key> (needs targets and loss_mask)")
    ap.add_argument("--f32", action="store_true", help="compute in float32 instead of float64")
    args = ap.parse_args()
    dtype = torch.float32 if args.f32 else torch.float64
    model = load_model(args.model, dtype)
    with open(args.case) as f:
        case = json.load(f)
    ids = torch.tensor(case["input_ids"])
    pos = torch.tensor(case["position_ids"])
    if case.get("mask_kind", "sep") == "sep":
        mask = torch.tensor(case["attention_mask"])
    else:
        mask = torch.tensor(case["attention_mask"], dtype=dtype)
    with torch.set_grad_enabled(args.grads):
        logits, hidden = model(ids, pos, mask, return_memory=True)
        out = {"logits": logits}
        for i, h in enumerate(hidden):
            out[f"hidden.{i}"] = h
        if "targets" in case and "loss_mask" in case:
            loss = glm_loss(logits, torch.tensor(case["targets"]), torch.tensor(case["loss_mask"]))
            out["loss"] = loss
            if args.grads:
                loss.backward()
                for k, p in model.named_parameters():
                    out[f"grad.{k}"] = p.grad
    save_file({k: v.detach().to(torch.float32).contiguous() for k, v in out.items()}, args.out)
    if "loss" in out:
        print(f"loss {out['loss'].item():.6f}")
    print(f"wrote {len(out)} tensors to {args.out}")


if __name__ == "__main__":
    main()
