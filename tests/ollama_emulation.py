"""Ollama's side of a Modelfile, emulated for tests that run without Ollama or Go: its Modelfile parser (a
port of `parser.ParseFile`'s state machine: quoting, multi-line values, comments), the subset of Go's
text/template that chat templates use (if / else if / else, range with variables, `:=`, eq, ne, not, and,
or, len, slice, index, field access, string literals, trim markers), and how Ollama hands a chat to a
template (`collate`: system messages joined into `.System` and kept in `.Messages`, consecutive messages of
one role merged)."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# --- Modelfile ---------------------------------------------------------------------------------------
COMMANDS = {
    "from",
    "license",
    "template",
    "system",
    "adapter",
    "draft",
    "renderer",
    "parser",
    "parameter",
    "message",
    "requires",
}


def _unquote(value: str) -> tuple[str, bool]:
    if value.startswith('"""'):
        if len(value) >= 6 and value.endswith('"""'):
            return value[3:-3], True
        return "", False
    if value.startswith('"'):
        if len(value) >= 2 and value.endswith('"'):
            return value[1:-1], True
        return "", False
    return value, True


def parse_modelfile(text: str) -> list[tuple[str, str]]:
    """(command, value) pairs as Ollama reads them: `model` for FROM, the parameter's name for PARAMETER."""
    commands: list[tuple[str, str]] = []
    state, buffer, name = "nil", "", ""

    def step(char: str, current: str) -> tuple[str, str]:
        if current == "nil":
            if char == "#":
                return "comment", ""
            return ("nil", "") if char in " \t\r\n" else ("name", char)
        if current == "name":
            if char.isascii() and char.isalpha():
                return "name", char
            if char in " \t":
                return "value", ""
            raise ValueError(f"invalid command character {char!r}")
        if current == "parameter":
            if char.isascii() and (char.isalnum() or char == "_"):
                return "parameter", char
            if char in " \t":
                return "value", ""
            raise ValueError(f"invalid parameter character {char!r}")
        if current == "comment":
            return ("nil", "") if char in "\r\n" else ("comment", "")
        return ("nil", char) if char in " \t\r\n" else ("value", char)  # value

    for char in text:
        following, written = step(char, state)
        if following != state:
            if state == "name":
                lowered = buffer.lower()
                if lowered not in COMMANDS:
                    raise ValueError(f"invalid command {buffer!r}")
                if lowered == "parameter":
                    following = "parameter"
                else:
                    name = "model" if lowered == "from" else lowered
            elif state == "parameter":
                name = buffer
            elif state == "value":
                value, ok = _unquote(buffer.strip())
                if not ok or char in " \t":
                    buffer += written
                    continue
                commands.append((name, value))
            buffer, state = "", following
        if written and written.isprintable():
            buffer += written
    if state == "value":
        value, ok = _unquote(buffer.strip())
        if not ok:
            raise ValueError("unexpected end of file in a quoted value")
        commands.append((name, value))
    elif state not in ("nil", "comment"):
        raise ValueError("unexpected end of file")
    return commands


# --- Go text/template subset -----------------------------------------------------------------------
_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(r'\s*(\(|\)|:=|"(?:[^"\\]|\\.)*"|[^\s()]+)')


@dataclass
class _Node:
    kind: str  # text, action, if, range
    text: str = ""
    branches: list[tuple[str, list[_Node]]] = field(default_factory=list)  # if: (condition, body)...
    else_body: list[_Node] | None = None
    variables: list[str] = field(default_factory=list)


def _lex(template: str) -> list[tuple[str, str]]:
    """("text", s) and ("action", s) items, trim markers applied to the neighbouring text."""
    items: list[tuple[str, str]] = []
    position, trim_next = 0, False
    for match in _ACTION.finditer(template):
        text = template[position : match.start()]
        if trim_next:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        items.append(("text", text))
        items.append(("action", match.group(2).strip()))
        trim_next, position = bool(match.group(3)), match.end()
    tail = template[position:]
    items.append(("text", tail.lstrip() if trim_next else tail))
    return [item for item in items if item != ("text", "")]


def _parse(
    items: list[tuple[str, str]], position: int = 0, closers: tuple[str, ...] = ()
) -> tuple[list[_Node], int, str]:
    nodes: list[_Node] = []
    while position < len(items):
        kind, text = items[position]
        position += 1
        if kind == "text":
            nodes.append(_Node("text", text))
            continue
        keyword = text.split(" ", 1)[0]
        if keyword in ("end", "else") and closers:
            return nodes, position, text
        if keyword == "if":
            node = _Node("if")
            condition = text[3:]
            while True:
                body, position, closer = _parse(items, position, ("end", "else"))
                node.branches.append((condition, body))
                if closer.startswith("else if "):
                    condition = closer[len("else if ") :]
                    continue
                if closer == "else":
                    node.else_body, position, _ = _parse(items, position, ("end",))
                break
            nodes.append(node)
        elif keyword == "range":
            spec = text[len("range ") :]
            variables: list[str] = []
            if ":=" in spec:
                names, spec = spec.split(":=", 1)
                variables = [name.strip() for name in names.split(",")]
            node = _Node("range", text=spec.strip(), variables=variables)
            body, position, closer = _parse(items, position, ("end", "else"))
            node.branches.append(("", body))
            if closer == "else":
                node.else_body, position, _ = _parse(items, position, ("end",))
            nodes.append(node)
        else:
            nodes.append(_Node("action", text))
    if closers:
        raise ValueError("unclosed block")
    return nodes, position, ""


def _truthy(value: Any) -> bool:
    return bool(value)  # Go: false, 0, nil, "" and empty collections are false, as in Python


class _Scope:
    def __init__(self, root: Any):
        self.frames: list[dict[str, Any]] = [{"$": root}]

    def get(self, name: str) -> Any:
        for frame in reversed(self.frames):
            if name in frame:
                return frame[name]
        raise KeyError(f"undefined variable {name}")


def _field(value: Any, names: Sequence[str]) -> Any:
    for name in names:
        value = value.get(name) if isinstance(value, Mapping) else getattr(value, name)
    return value


_FUNCTIONS = {
    "eq": lambda first, *others: any(first == other for other in others),
    "ne": lambda a, b: a != b,
    "not": lambda a: not _truthy(a),
    "and": lambda *args: next((a for a in args if not _truthy(a)), args[-1]),
    "or": lambda *args: next((a for a in args if _truthy(a)), args[-1]),
    "len": len,
    "slice": lambda items, start=0, end=None: items[start:end],
    "index": lambda items, key: items[key],
}


def _evaluate(tokens: list[str], dot: Any, scope: _Scope) -> Any:
    def operand(position: int) -> tuple[Any, int]:
        token = tokens[position]
        if token == "(":
            depth, end = 1, position + 1
            while depth:
                depth += {"(": 1, ")": -1}.get(tokens[end], 0)
                end += 1
            return _evaluate(tokens[position + 1 : end - 1], dot, scope), end
        if token.startswith('"'):
            return ast.literal_eval(token), position + 1  # Go and Python agree on the escapes used here
        if re.fullmatch(r"-?\d+", token):
            return int(token), position + 1
        if token == ".":
            return dot, position + 1
        if token.startswith("."):
            return _field(dot, token[1:].split(".")), position + 1
        if token.startswith("$"):
            name, _, rest = token.partition(".")
            return _field(scope.get(name), rest.split(".") if rest else []), position + 1
        raise ValueError(f"unexpected {token!r}")

    if tokens and tokens[0] in _FUNCTIONS:
        arguments, position = [], 1
        while position < len(tokens):
            value, position = operand(position)
            arguments.append(value)
        return _FUNCTIONS[tokens[0]](*arguments)
    value, position = operand(0)
    if position != len(tokens):
        raise ValueError(f"cannot evaluate {tokens}")
    return value


def _run(nodes: list[_Node], dot: Any, scope: _Scope, out: list[str]) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.text)
        elif node.kind == "action":
            tokens = _TOKEN.findall(node.text)
            if len(tokens) > 2 and tokens[1] == ":=":
                scope.frames[-1][tokens[0]] = _evaluate(tokens[2:], dot, scope)
            else:
                value = _evaluate(tokens, dot, scope)
                out.append("" if value is None else str(value))
        elif node.kind == "if":
            for condition, body in node.branches:
                if _truthy(_evaluate(_TOKEN.findall(condition), dot, scope)):
                    scope.frames.append({})
                    _run(body, dot, scope, out)
                    scope.frames.pop()
                    break
            else:
                if node.else_body is not None:
                    _run(node.else_body, dot, scope, out)
        else:  # range
            items = _evaluate(_TOKEN.findall(node.text), dot, scope)
            if not items and node.else_body is not None:
                _run(node.else_body, dot, scope, out)
            for index, item in enumerate(items):
                frame = dict(zip(node.variables, (index, item) if len(node.variables) == 2 else (item,), strict=False))
                scope.frames.append(frame)
                _run(node.branches[0][1], item, scope, out)
                scope.frames.pop()


def render_go_template(template: str, data: Mapping[str, Any]) -> str:
    """`template` executed on `data` as Go's text/template would (for the subset above)."""
    nodes, _, _ = _parse(_lex(template))
    out: list[str] = []
    _run(nodes, data, _Scope(data), out)
    return "".join(out)


def ollama_prompt(template: str, messages: Sequence[Mapping[str, str]], system: str = "") -> str:
    """The prompt Ollama renders for a chat: the Modelfile's SYSTEM first when the chat has no system
    message, then `collate`'s `.System` and `.Messages` handed to the template."""
    chat = [dict(message) for message in messages]
    if system and not any(message["role"] == "system" for message in chat):
        chat.insert(0, {"role": "system", "content": system})
    joined_system = "\n\n".join(message["content"] for message in chat if message["role"] == "system")
    collated: list[dict[str, str]] = []
    for message in chat:
        if collated and collated[-1]["Role"] == message["role"]:
            collated[-1]["Content"] += "\n\n" + message["content"]
        else:
            collated.append({"Role": message["role"], "Content": message["content"]})
    return render_go_template(template, {"System": joined_system, "Messages": collated})
