from verl_ccrl import TokenAligner, find_number_mentions, mention_token_indices, token_char_spans

RESPONSE = "Tom buys 12345 apples at $3.25 each: 12345 * 3.25 = 40121.25 dollars.\n#### 40,121.25 — ü"


def _mention_tokens(tokenizer, text, ids):
    spans = TokenAligner(tokenizer).char_spans(ids, text)
    return [(m.text, mention_token_indices(spans, m.start, m.end)) for m in find_number_mentions(text)]


def test_every_number_maps_to_tokens_that_spell_it(any_tokenizer):
    ids = any_tokenizer.encode(RESPONSE, add_special_tokens=False) + [any_tokenizer.eos_token_id]
    text = any_tokenizer.decode(ids, skip_special_tokens=True)
    assert text == RESPONSE
    for number, indices in _mention_tokens(any_tokenizer, text, ids):
        assert indices is not None, number
        spelled = any_tokenizer.decode([ids[i] for i in indices]).strip().lstrip("$")
        # The tokens cover the number, and at most a neighbouring space or symbol glued into the same token.
        assert number in spelled and len(spelled) <= len(number) + 2, (number, spelled)


def test_single_digit_tokenizer_gives_one_token_per_digit(single_digit_tokenizer):
    ids = single_digit_tokenizer.encode("x = 40121", add_special_tokens=False)
    ((number, indices),) = _mention_tokens(single_digit_tokenizer, "x = 40121", ids)
    assert len(indices) == 5


def test_three_digit_tokenizer_maps_multi_digit_chunks(three_digit_tokenizer):
    ids = three_digit_tokenizer.encode("x = 40121", add_special_tokens=False)
    ((number, indices),) = _mention_tokens(three_digit_tokenizer, "x = 40121", ids)
    pieces = [three_digit_tokenizer.decode([ids[i]]).strip() for i in indices]
    assert "".join(pieces) == "40121"
    assert max(len(piece) for piece in pieces) >= 2 and len(pieces) < 5


def test_non_canonical_tokenization_still_aligns(single_digit_tokenizer):
    # A sampled stream may spell " 12" as " " + "1" + "2" or any other split; alignment follows the stream.
    tokenizer = single_digit_tokenizer
    pieces = ["Total", " ", "=", " ", "1", "2"]
    ids = [token_id for piece in pieces for token_id in tokenizer.encode(piece, add_special_tokens=False)]
    assert ids != tokenizer.encode("Total = 12", add_special_tokens=False)
    text = tokenizer.decode(ids)
    assert text == "Total = 12"
    ((number, indices),) = _mention_tokens(tokenizer, text, ids)
    assert [tokenizer.decode([ids[i]]) for i in indices] == ["1", "2"]


def test_divergent_text_leaves_later_numbers_unaligned(qwen_tokenizer):
    ids = qwen_tokenizer.encode("a 12 b 34", add_special_tokens=False)
    spans = TokenAligner(qwen_tokenizer).char_spans(ids, "a 12 b 35")  # the scored text differs at the end
    mentions = find_number_mentions("a 12 b 35")
    assert mention_token_indices(spans, mentions[0].start, mentions[0].end) is not None
    assert mention_token_indices(spans, mentions[1].start, mentions[1].end) is None


def test_special_tokens_cover_no_text(qwen_tokenizer):
    ids = [qwen_tokenizer.convert_tokens_to_ids("<|im_start|>")] + qwen_tokenizer.encode(
        "7 + 5 = 12", add_special_tokens=False
    )
    spans = TokenAligner(qwen_tokenizer).char_spans(ids, "7 + 5 = 12")
    assert spans[0] == (0, 0)
    assert all(span is not None for span in spans)


def test_sentencepiece_leading_space_is_allowed_for(sentencepiece_tokenizer):
    ids = sentencepiece_tokenizer.encode("42 cats", add_special_tokens=False)
    text = sentencepiece_tokenizer.decode(ids)
    assert not text.startswith(" ")
    spans = TokenAligner(sentencepiece_tokenizer).char_spans(ids, text)
    assert spans[0] is not None and text[spans[0][0] : spans[0][1]].strip() == "42"


def test_multibyte_characters_split_across_tokens_do_not_shift_later_numbers():
    pieces = ["日".encode()[:2], "日".encode()[2:], b" 7"]
    spans = token_char_spans(pieces, "日 7")
    assert spans[-1] == (1, 3)


def test_number_outside_any_token_span_has_no_positions():
    assert mention_token_indices([(0, 3)], 5, 7) is None


def test_invalid_utf8_from_random_tokens_aligns_like_the_tokenizer_decodes(single_digit_tokenizer):
    # A random policy samples byte tokens that do not form UTF-8; the decoded text then holds U+FFFD.
    tokenizer = single_digit_tokenizer
    byte_token = next(i for i in range(len(tokenizer)) if tokenizer.convert_ids_to_tokens(i) in ("Ã", "Ð", "â"))
    ids = (
        tokenizer.encode("ab 7", add_special_tokens=False)[:1]
        + [byte_token]
        + tokenizer.encode(" 42", add_special_tokens=False)
    )
    text = tokenizer.decode(ids)
    assert "\ufffd" in text
    spans = TokenAligner(tokenizer).char_spans(ids, text)
    ((number, indices),) = [(m.text, mention_token_indices(spans, m.start, m.end)) for m in find_number_mentions(text)]
    assert number == "42" and "".join(tokenizer.decode([ids[i]]) for i in indices).strip() == "42"
