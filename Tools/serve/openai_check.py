#!/usr/bin/env python3
"""Drives a running `glm serve` with the official OpenAI Python client (`pip install openai`) and
prints what it got as one JSON object; Tests/GLMServeTests/ClientTests.swift checks the values.

    python3 Tools/serve/openai_check.py --base-url http://127.0.0.1:8080/v1 --model NAME [--api-key KEY]
"""
import argparse
import json
import sys

import openai


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--api-key", default="unused")
    a = ap.parse_args()
    client = openai.OpenAI(base_url=a.base_url, api_key=a.api_key, max_retries=0, timeout=60)
    out = {"openai_version": openai.__version__}

    out["models"] = [m.id for m in client.models.list().data]
    out["model"] = client.models.retrieve(a.model).id

    # min_tokens (a vLLM-style extension) keeps the tiny test model from stopping at once.
    c = client.completions.create(model=a.model, prompt="w7 w8 w9", max_tokens=6, temperature=0, extra_body={"min_tokens": 6})
    out["completion"] = {"text": c.choices[0].text, "finish_reason": c.choices[0].finish_reason,
                         "usage": c.usage.model_dump(), "object": c.object, "model": c.model}

    pieces, reasons, usage = [], [], None
    for chunk in client.completions.create(model=a.model, prompt="w7 w8 w9", max_tokens=6, temperature=0, stream=True,
                                           stream_options={"include_usage": True}, extra_body={"min_tokens": 6}):
        for ch in chunk.choices:
            pieces.append(ch.text)
            reasons.append(ch.finish_reason)
        if chunk.usage is not None:
            usage = chunk.usage.model_dump()
    out["stream"] = {"pieces": pieces, "text": "".join(pieces), "finish_reason": reasons[-1] if reasons else None, "usage": usage}

    many = client.completions.create(model=a.model, prompt=["w40 [MASK] w44", "w12 w13"], max_tokens=4, temperature=0.8, seed=9)
    out["batch"] = [{"index": ch.index, "text": ch.text} for ch in sorted(many.choices, key=lambda ch: ch.index)]

    try:
        client.completions.create(model=a.model, prompt="w5", n=2)
        out["n_error"] = None
    except openai.BadRequestError as e:
        out["n_error"] = {"status": e.status_code, "param": (e.body or {}).get("param"), "message": (e.body or {}).get("message")}

    try:
        client.completions.create(model="no-such-model", prompt="w5")
        out["model_error"] = None
    except openai.NotFoundError as e:
        out["model_error"] = {"status": e.status_code, "code": (e.body or {}).get("code")}

    wrong = openai.OpenAI(base_url=a.base_url, api_key="wrong-key", max_retries=0, timeout=60)
    try:
        wrong.models.list()
        out["auth_error"] = None
    except openai.AuthenticationError as e:
        out["auth_error"] = {"status": e.status_code}

    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
