"""Infotext goldens: A1111's own parse_generation_parameters (modules/infotext_utils.py, via the shim's
modules/infotext_parse.py) on (1) the infotexts OUR GenerationInfotext writes for the "written" cases of
infotext_cases.json (made by WriteInfotexts.java) and (2) infotexts as A1111 writes them ("a1111_examples").

usage: PYTHONPATH=A1111_SHIM /usr/bin/python3 gen_infotext.py infotext_cases.json JAVA_TEXTS.json OUT.json

OUT.json: {"written": [{...case, "text": TEXT, "a1111": parse_generation_parameters(TEXT)}],
           "a1111_examples": [{"text": TEXT, "a1111": ...}]}
(values A1111 fills in for absent keys, e.g. "Hires sampler", are kept: the Java test compares only the prompt,
the negative prompt and the keys the text has.)
"""
import json
import sys

from modules.infotext_parse import parse_generation_parameters


def main():
    cases = json.load(open(sys.argv[1], encoding="utf-8"))
    texts = json.load(open(sys.argv[2], encoding="utf-8"))
    out = {"generator": "tools/a1111-goldens/gen_infotext.py (A1111 modules/infotext_utils.py"
                        " parse_generation_parameters)", "written": [], "a1111_examples": []}
    for c in cases["written"]:
        text = texts[c["name"]]
        out["written"].append(dict(c, text=text, a1111=parse_generation_parameters(text)))
    for text in cases["a1111_examples"]:
        out["a1111_examples"].append({"text": text, "a1111": parse_generation_parameters(text)})
    with open(sys.argv[3], "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    for c in out["written"]:
        print(c["name"], {k: c["a1111"][k] for k in ("Prompt", "Negative prompt", "Seed", "Size-1", "Size-2")})


if __name__ == "__main__":
    main()
