"""A question that asks for a quantity needs an answer that gives one, in the unit asked for."""
from rag.answer_type import gives_asked_quantity


def test_a_number_of_another_unit_does_not_answer_how_many():
    question = "How many tokens of text was GLM-130B pre-trained on?"
    assert not gives_asked_quantity(question, "GLM-130B was pre-trained on 130 billion parameters [1].")
    assert gives_asked_quantity(question, "GLM-130B was pre-trained on 400 billion tokens [1].")


def test_a_number_repeated_from_the_question_is_not_an_answer():
    question = "How many expert models were ensembled in the 24-billion-parameter run?"
    assert not gives_asked_quantity(question, "There were 24 billion-parameter expert models in the run [1].")
    assert gives_asked_quantity(question, "The run ensembled 8 expert models [1].")


def test_every_asked_unit_must_be_given():
    question = "How many GPUs and how many days were needed to train the model?"
    assert not gives_asked_quantity(question, "It was trained on 192 GPUs [1].")
    assert gives_asked_quantity(question, "It was trained on 192 GPUs in 21.5 days [1].")


def test_how_much_and_percentages_need_some_new_number():
    assert not gives_asked_quantity("How much did it cost to train the model?", "Training was cheap [1].")
    assert gives_asked_quantity("How much did it cost to train the model?", "Training cost $100,000 [1].")
    assert gives_asked_quantity("By what percentage did FP8 cut training time?", "It cut it by 20% [1].")


def test_other_questions_and_second_parts_are_not_checked():
    assert gives_asked_quantity("What does the method compress?", "It compresses the KV cache [1].")
    # naming the work still answers "Which work ..., and by how much ...?" in part
    assert gives_asked_quantity("Which work gauges how many parameters a task needs, and how much easier is X?",
                                "The intrinsic-dimension study does [1].")
