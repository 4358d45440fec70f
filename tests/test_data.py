import numpy as np
import pandas as pd
import pytest

from decoreg.causal_lm.prompts import PromptTemplate
from decoreg.data import (
    frame_from_python,
    numeric_targets,
    read_table,
    select_texts,
    targets_from_python,
    texts_from_column,
)
from decoreg.errors import ConfigError, DataError


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("d.csv", "text,y\nhello,1\nworld,2.5\n"),
        ("d.tsv", "text\ty\nhello\t1\nworld\t2.5\n"),
        ("d.jsonl", '{"text": "hello", "y": 1}\n{"text": "world", "y": 2.5}\n'),
    ],
)
def test_read_table_reads_each_text_format(tmp_path, name, content):
    frame = read_table(write(tmp_path, name, content))
    assert frame["text"].tolist() == ["hello", "world"]
    np.testing.assert_array_equal(numeric_targets(frame, "y", name), [1.0, 2.5])


def test_read_table_reads_parquet(tmp_path):
    path = tmp_path / "d.parquet"
    pd.DataFrame({"text": ["a"], "y": [3.0]}).to_parquet(path)
    assert read_table(path)["y"].tolist() == [3.0]


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        read_table(tmp_path / "nope.csv")


def test_empty_file_and_header_only_file(tmp_path):
    with pytest.raises(DataError, match="empty"):
        read_table(write(tmp_path, "e.csv", ""))
    with pytest.raises(DataError, match="no rows"):
        read_table(write(tmp_path, "h.csv", "text,y\n"))


def test_unsupported_extension_lists_supported(tmp_path):
    with pytest.raises(DataError, match=r"\.xlsx.*\.csv"):
        read_table(write(tmp_path, "d.xlsx", "x"))


def test_malformed_jsonl_names_the_file(tmp_path):
    with pytest.raises(DataError, match=r"bad\.jsonl: could not be read"):
        read_table(write(tmp_path, "bad.jsonl", '{"text": "a"\n'))


def test_unknown_column_lists_the_columns(tmp_path):
    frame = read_table(write(tmp_path, "d.csv", "review,stars\nok,3\n"))
    with pytest.raises(DataError, match=r"d\.csv: no column\(s\) \['rating'\].*'review', 'stars'"):
        numeric_targets(frame, "rating", "d.csv")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", r"line 3, column 'y': 'abc' is not a number"),
        ("", r"line 3, column 'y': the target is missing"),
        ("nan", r"line 3, column 'y': the target is missing \(NaN\)"),
        ("inf", r"line 3, column 'y': the target is infinite"),
        ("-inf", r"line 3, column 'y': the target is infinite"),
    ],
)
def test_bad_target_names_file_row_and_column(tmp_path, value, message):
    frame = read_table(write(tmp_path, "t.csv", f"text,y\nfine,1\nbad,{value}\n"))
    with pytest.raises(DataError, match=r"t\.csv, " + message):
        numeric_targets(frame, "y", "t.csv")


def test_empty_text_names_file_row_and_column(tmp_path):
    frame = read_table(write(tmp_path, "t.csv", 'text,y\nfine,1\n"  ",2\n'))
    with pytest.raises(DataError, match=r"t\.csv, line 3, column 'text': the text is empty"):
        texts_from_column(frame, "text", "t.csv")


def test_feature_columns_serialize_rows_and_say_missing():
    frame = pd.DataFrame({"age": [33.0, np.nan], "dept": ["Tops", "Dresses"], "y": [1, 2]})
    texts = select_texts(frame, "<input>", text_column=None, feature_columns=["age", "dept"])
    assert texts == ["age: 33; dept: Tops", "age: missing; dept: Dresses"]


def test_text_and_feature_columns_are_exclusive():
    frame = pd.DataFrame({"a": ["x"]})
    with pytest.raises(DataError, match="exactly one"):
        select_texts(frame, "<input>", text_column="a", feature_columns=["a"])


def test_python_inputs_and_target_length_mismatch():
    frame = frame_from_python(["a", "b"])
    assert frame["text"].tolist() == ["a", "b"]
    with pytest.raises(DataError, match="2 inputs but 3 targets"):
        targets_from_python([1, 2, 3], 2)
    with pytest.raises(DataError, match=r"row 2, column 'y': 'x' is not a number"):
        targets_from_python([1, "x"], 2)
    with pytest.raises(DataError, match="single string"):
        frame_from_python("just one text")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Rating: ", "placeholder"),
        ("{text} {text} ", "exactly once"),
        ("Review: {text}\nRating:", "end with a space"),
    ],
)
def test_bad_prompt_template(template, message):
    with pytest.raises(ConfigError, match=message):
        PromptTemplate(template)


def test_template_renders_with_trailing_space():
    assert PromptTemplate("R: {text}\nStars: ").render("nice") == "R: nice\nStars: "
