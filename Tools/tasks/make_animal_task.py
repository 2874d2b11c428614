"""Writes a small cloze task a small GLM can learn beyond doubt (docs/finetune.md, "A task the
small model can learn"): is the thing in a short sentence an animal? Sentences are built from
templates; every noun is one BERT WordPiece token; train and dev share the nouns but no sentence.

    python3 Tools/tasks/make_animal_task.py     # from the repository root
"""
import json
import random

ANIMALS = ["dog", "cat", "horse", "cow", "sheep", "pig", "goat", "lion", "tiger", "bear", "wolf", "fox",
           "deer", "rabbit", "mouse", "rat", "bird", "eagle", "owl", "duck", "fish", "snake", "frog", "monkey"]
OBJECTS = ["chair", "table", "lamp", "book", "cup", "plate", "knife", "spoon", "hammer", "bottle", "box", "clock",
           "door", "window", "bed", "desk", "pen", "coin", "rope", "stone", "hat", "shoe", "bag", "key"]
ADJECTIVES = ["old", "small", "big", "red", "brown", "white", "black", "quiet", "strange", "heavy", "new", "dark"]
PLACES = ["in the garden", "near the house", "by the river", "on the road", "in the kitchen", "under the tree",
          "behind the barn", "at the market", "in the field", "by the door"]
TEMPLATES = ["the {adj} {noun} was {place}.", "we saw a {adj} {noun} {place}.", "there is a {noun} {place}.",
             "she found the {adj} {noun} {place}.", "a {noun} stayed {place} all day."]


def sentences(rng, n, seen):
    out = []
    while len(out) < n:
        animal = rng.random() < 0.5
        noun = rng.choice(ANIMALS if animal else OBJECTS)
        s = rng.choice(TEMPLATES).format(adj=rng.choice(ADJECTIVES), noun=noun, place=rng.choice(PLACES))
        if s in seen:
            continue
        seen.add(s)
        out.append({"sentence": s, "label": "animal" if animal else "object"})
    return out


rng = random.Random(20261201)
seen = set()
train, dev = sentences(rng, 2000, seen), sentences(rng, 400, seen)
task = {"name": "animals", "pattern": "{sentence} is it an animal? [MASK].",
        "verbalizer": {"object": " no", "animal": " yes"}, "seq_length": 32, "epochs": 3, "batch_size": 16,
        "learning_rate": 1e-4}
root = "Resources/eval/learnable/"
with open(root + "task.json", "w") as f:
    json.dump(task, f, indent=1)
    f.write("\n")
for name, rows in (("train", train), ("dev", dev)):
    with open(root + name + ".jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
print(len(train), "train,", len(dev), "dev")
