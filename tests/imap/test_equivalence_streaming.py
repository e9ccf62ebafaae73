#!/usr/bin/env python3
"""test_equivalence_streaming.py - the equivalence test (test_equivalence.py)
with the backend's in-memory lexicon disabled (plugin setting
mailsift_lexicon_max = 0): every key is then matched by reading the field's
terms from the index, the path taken for fields too big for memory
(invariant 5). 1,000 messages and an even sample of 120 queries by default
(MSIMAP_MESSAGES, MSIMAP_QUERIES override). Prints "N passed, N failed".
"""
import os
import sys

os.environ.setdefault("MSIMAP_MESSAGES", "1000")
os.environ.setdefault("MSIMAP_QUERIES", "120")
os.environ["MSIMAP_PLUGIN_EXTRA"] = "  mailsift_lexicon_max = 0\n"
# proof that the lookups really took that path
os.environ["MSIMAP_LOG_MUST"] = r"field B over mailsift_lexicon_max"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_equivalence  # noqa: E402

if __name__ == "__main__":
    test_equivalence.main()
