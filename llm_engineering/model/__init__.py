"""Model work: turning weights into a twin and judging it (fine-tuning, evaluation, format conversion).

GPU-aware and heavy (torch, transformers, TRL, PEFT, Unsloth): every heavy import stays inside a
function, so importing this package costs nothing.
"""
