"""A word-level tokenizer trained on the tiny world's text, saved in the Hugging Face format.

Words are split on whitespace and punctuation; newlines are kept as a token. Every answer, number and name is
one token, so the label words (``True``/``False``/``A``/``B``) and the pretraining verdict words are single tokens.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[EOS]")
#: Keep newlines, words and runs of punctuation as pieces; drop other whitespace.
_PIECES = Regex(r"\n|\w+|[^\w\s]+")


def train_tokenizer(texts: Iterable[str]) -> PreTrainedTokenizerFast:
    """Train a word-level tokenizer whose vocabulary is exactly the words in ``texts`` plus specials."""
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(_PIECES, behavior="removed", invert=True)
    tokenizer.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    trainer = trainers.WordLevelTrainer(special_tokens=list(SPECIAL_TOKENS), min_frequency=1)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="[PAD]",
        unk_token="[UNK]",
        eos_token="[EOS]",
        padding_side="left",
    )
