from aarlab.w2s.data import LABEL_WORDS, BinaryExample, ComparisonExample, format_prompt, format_zero_shot_prompt


def test_prompts_follow_the_reference_templates() -> None:
    assert format_prompt(BinaryExample(id="1", question="Q?", choice="C")) == "Question: Q?\nAnswer: C\nLabel:"
    assert format_prompt(ComparisonExample(id="1", prompt="P", first="x", second="y")) == (
        "Question: P\nAnswer A: x\nAnswer B: y\nLabel:"
    )
    assert LABEL_WORDS == {"binary": ("False", "True"), "comparison": ("A", "B")}


def test_zero_shot_prompt_asks_to_judge_a_claim() -> None:
    prompt = format_zero_shot_prompt(BinaryExample(id="1", question="Q?", choice="C"))
    assert prompt.endswith("Claim: This answer is correct.\nLabel:")
