"""StackExchange questions and answers (StarCoder2 paper §5.5).

Raw record: `id`, `question` (`author`, `title`, `body`) and `answers` (each `author`, `body`, `score`,
`accepted`). Rendered, the answers in random order:

    <issue_start>username_0: TITLE\\n\\nQUESTION\\n<issue_comment>username_1: ANSWER\\nUpvotes: 12 [selected answer]
    \\n<issue_comment>username_2: ANSWER\\nUpvotes: 3
"""

from dataclasses import dataclass

from megatron_sc2.sources.blocks import Drop
from megatron_sc2.sources.pseudonyms import pseudonyms, replace_names

ID_KEY = "id"


@dataclass(frozen=True)
class StackExchangeOptions:
    shuffle_answers: bool = True


def has_answers(record: dict, rng) -> None:
    if not isinstance(record.get("question"), dict) or not record.get("answers"):
        raise Drop("no_answers")


def pseudonymize(record: dict) -> None:
    posts = [record["question"], *record["answers"]]
    mapping = pseudonyms(post.get("author") for post in posts)
    for post in posts:
        post["author"] = mapping.get(post.get("author"), post.get("author") or "")
        for key in ("title", "body"):
            post[key] = replace_names(post.get(key), mapping)


def _answer(answer: dict) -> str:
    selected = " [selected answer]" if answer.get("accepted") else ""
    return f"<issue_comment>{answer['author']}: {answer.get('body') or ''}\nUpvotes: {answer.get('score', 0)}{selected}"


def render(record: dict, rng, options: StackExchangeOptions) -> tuple[str, dict]:
    question, answers = record["question"], list(record["answers"])
    if options.shuffle_answers:
        rng.shuffle(answers)
    title = f"{question['title']}\n\n" if question.get("title") else ""
    text = f"<issue_start>{question['author']}: {title}{question.get('body') or ''}\n"
    return text + "\n".join(map(_answer, answers)), {"id": record.get(ID_KEY)}


def filters(options: StackExchangeOptions) -> list:
    return [has_answers]
