"""The offline researcher that writes methods: an evolutionary search over W2S *programs* (see ``_program.py``).

Each candidate is rendered as an ordinary method file (``/workspace/methods/evolved-<id>.py``, the plug-in API),
run label-free in the agent's sandbox, submitted with the agent's own token, and its public PGR is its fitness. The
population starts from vanilla (the reference every later candidate must beat) and random programs; then each new
candidate is a mutation of a parent (mostly the latest candidate that raised the agent's public Ladder score, the
best it knows; else a tournament), a crossover of two, or -- the islands' migration -- a mutation or crossover of the
best program another agent posted on the forum. A new best is
pushed as a snapshot and posted as a ``result`` citing its receipt, its own snapshot and the snapshot it started from;
other agents read those posts and build on them. Before a new best is posted (and before the end-of-run
nomination) the agent runs it once more on the teacher's soft labels *shuffled* over the examples, not submitted: a
program whose hard test predictions barely change (agreement >= :data:`TEACHER_AGREEMENT`) does not learn from the
teacher -- it reads the strong model's own knowledge out, as self-training can -- and is neither posted nor used
as a parent (label-free; the promotion's label-dependence ablation on the private split still decides).
Everything the agent tried is in ``agents/NAME/population.jsonl``
(host side, one line per candidate: program, origin, parent, score), next to its transcript.

It reuses the search agent's sandbox, submission, publication and operator control (:class:`SearchAgent`).
"""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aarlab.agents.evolve._program import BASELINES, Program, crossover, method_name, mutate, random_program, render
from aarlab.agents.search._agent import FORUM_EVERY, BudgetExhausted, SearchAgent, agent_main

if TYPE_CHECKING:
    from aarlab.client import ForumClient
    from aarlab.server import Post, SubmissionReceipt

POPULATION = "population.jsonl"
#: Random programs evaluated after vanilla before evolution starts.
RANDOM_STARTS = 2
#: Candidates a tournament looks at.
TOURNAMENT = 3
_PROGRAM_BLOCK = re.compile(r"```json\s*(\{.*?\})\s*```", re.S)
#: Hard test predictions agreeing this much between a program's run on the teacher's soft labels and its run on
#: them shuffled: the program does not learn from the teacher (an honest W2S method's agreement is near chance).
TEACHER_AGREEMENT = 0.8
#: Candidates the end-of-run nomination screens at most, and how long past the deadline it may take to.
NOMINATION_CHECKS = 3
NOMINATION_GRACE_S = 40.0  # inside the campaign's 60 s grace (campaign/_run.py)
#: Where the shuffled-label run writes its predictions in the workspace (never submitted).
SHUFFLED_PREDICTIONS = "predictions-shuffled.jsonl"


@dataclass
class Candidate:
    """One evaluated program: what it was, where it came from, how it scored."""

    program: dict[str, Any]
    id: str
    origin: str  # baseline | random | mutation | crossover | migrant-mutation | migrant-crossover
    parents: list[str]
    parent_snapshot: str | None
    value: float | None = None
    submission: str | None = None
    snapshot: str | None = None
    t: float = 0.0
    #: Agreement of its hard test predictions with its run on shuffled weak labels (None: not screened).
    shuffled_agreement: float | None = None

    @property
    def ignores_teacher(self) -> bool:
        """Screened, and its predictions hardly depend on the teacher's labels."""
        return self.shuffled_agreement is not None and self.shuffled_agreement >= TEACHER_AGREEMENT


def hard_agreement(first: dict[str, bool], second: dict[str, bool]) -> float | None:
    """Fraction of shared example ids on which two runs' hard predictions agree (None when none is shared)."""
    shared = first.keys() & second.keys()
    return sum(first[i] == second[i] for i in shared) / len(shared) if shared else None


def hard_predictions(path: Path, workspace: Path) -> dict[str, bool]:
    """``id -> p > 0.5`` of a predictions file in the workspace (read without following links); {} if unreadable."""
    from aarlab.client import PredictionsFileError, read_predictions

    try:
        records, _ = read_predictions(path, within=workspace)
    except PredictionsFileError:
        return {}
    out = {}
    for record in records:
        if isinstance(record.get("id"), str) and isinstance(record.get("p"), int | float):
            out[record["id"]] = float(record["p"]) > 0.5
    return out


@dataclass
class Migrant:
    """A program another agent posted: its author, score, post and snapshot (what a child cites)."""

    program: Program
    author: str
    score: float
    post_id: int
    snapshot: str | None
    dataset: str | None = None


def program_of_post(post: Post) -> Program | None:
    """The program an evolve agent's result post carries in its ```json block, if any."""
    match = _PROGRAM_BLOCK.search(post.body)
    if match is None:
        return None
    try:
        data = json.loads(match.group(1))
        return Program.model_validate(data.get("program", data))
    except (ValueError, AttributeError):
        return None


def read_population(path: Path) -> list[Candidate]:
    """An agent's ``population.jsonl`` replayed: one candidate per program, its latest line winning (a posted
    candidate is written again with its snapshot), in the order first tried; a line cut by a crash is skipped."""
    if not path.is_file() or path.is_symlink():
        return []
    latest: dict[str, Candidate] = {}
    for line in path.read_text(errors="replace").splitlines():
        try:
            candidate = Candidate(**json.loads(line))
            Program.model_validate(candidate.program)
        except (ValueError, TypeError):
            continue
        latest[candidate.id] = candidate
    return list(latest.values())


def method_file(program: Program) -> str:
    """The workspace path of a program's method file, named as its submissions' method label (what promotion looks
    for in the snapshot)."""
    return f"methods/{method_name(program)}.py"


class EvolveAgent(SearchAgent):
    """One evolving researcher; :meth:`run` works until the deadline, its budgets, or the operator stops it."""

    def __init__(self, state: Path, name: str, log: Any = None) -> None:
        super().__init__(state, name, log)
        self.rng = random.Random(self.assignment.seed)
        self.population_file = self.layout.agent_dir / POPULATION
        self.population = read_population(self.population_file)
        self.migrants: list[Migrant] = []
        #: Receipts of this process's submissions by program id (a result post cites one).
        self._receipts: dict[str, SubmissionReceipt] = {}
        #: Hard test predictions of this process's candidates by program id (what the shuffled run is compared with).
        self._hard: dict[str, dict[str, bool]] = {}

    # -- population ---------------------------------------------------------------------------------------
    def _record(self, candidate: Candidate) -> None:
        self.population.append(candidate)
        self._write(candidate)

    def _write(self, candidate: Candidate) -> None:
        """Append the candidate's line to ``population.jsonl`` (a later line of the same id wins on reading)."""
        with self.population_file.open("a") as fh:
            fh.write(json.dumps(asdict(candidate)) + "\n")

    def scored(self) -> list[Candidate]:
        """Evaluated candidates that are not known to ignore the teacher, best first."""
        return sorted((c for c in self.population if c.value is not None and not c.ignores_teacher),
                      key=lambda c: -(c.value or 0.0))

    def best(self) -> Candidate | None:
        ranked = self.scored()
        return ranked[0] if ranked else None

    # -- proposals ----------------------------------------------------------------------------------------
    def records(self) -> list[Candidate]:
        """Candidates that raised the agent's best public score when they were scored, oldest first.

        Public scores are a Ladder (docs/scoring.md): a candidate that does not beat the best by a step reads the
        best again, so equal scores say "not better by a step", not "as good". The candidates that moved the
        ladder are the only ones known to be better than what came before them.
        """
        out, best = [], float("-inf")
        for candidate in self.population:
            if candidate.value is not None and candidate.value > best and not candidate.ignores_teacher:
                best = candidate.value
                out.append(candidate)
        return out

    def _tournament(self) -> Candidate:
        """A parent: usually the latest ladder record (the best known), else a tournament among the scored."""
        records = self.records()
        if records and self.rng.random() < 0.6:
            return records[-1] if self.rng.random() < 0.7 or len(records) == 1 else self.rng.choice(records[:-1])
        ranked = self.scored()
        pool = self.rng.sample(ranked, min(TOURNAMENT, len(ranked)))
        return max(pool, key=lambda c: c.value or 0.0)

    def propose(self) -> tuple[Program, str, list[str], str | None]:
        """The next untried program: (program, origin, parent ids, the snapshot it started from)."""
        tried = {c.id for c in self.population}
        for _ in range(50):
            program, origin, parents, snapshot = self._draw()
            program = program.canonical()  # a stale parameter of an unused block makes no new program
            if program.id not in tried:
                return program, origin, parents, snapshot
        program = mutate(random_program(self.rng), self.rng, 3).canonical()  # a crowded neighbourhood: jump
        return program, "random", [], None

    def _draw(self) -> tuple[Program, str, list[str], str | None]:
        if not any(c.origin == "baseline" for c in self.population):
            return BASELINES["vanilla"], "baseline", [], None
        if sum(c.origin == "random" for c in self.population) < RANDOM_STARTS or not self.scored():
            return random_program(self.rng), "random", [], None
        migrant = self._migrant()
        if migrant is not None and self.rng.random() < 0.4:
            own = self._tournament()
            if self.rng.random() < 0.5:
                child = crossover(Program.model_validate(own.program), migrant.program, self.rng)
                return child, "migrant-crossover", [own.id, migrant.program.id], migrant.snapshot
            return mutate(migrant.program, self.rng), "migrant-mutation", [migrant.program.id], migrant.snapshot
        parent = self._tournament()
        if self.rng.random() < 0.3 and len(self.scored()) > 1:
            other = self._tournament()
            child = crossover(Program.model_validate(parent.program), Program.model_validate(other.program), self.rng)
            return child, "crossover", [parent.id, other.id], parent.snapshot
        child = mutate(Program.model_validate(parent.program), self.rng, self.rng.choice((1, 1, 2)))
        return child, "mutation", [parent.id], parent.snapshot

    def _migrant(self) -> Migrant | None:
        """The best program another agent posted, on this agent's dataset if any was, else on any (scores of other
        datasets only rank programs among themselves); None before any."""
        if not self.migrants:
            return None
        return max(self.migrants, key=lambda m: (m.dataset == self.dataset, m.score))

    # -- one candidate ------------------------------------------------------------------------------------
    def write_method(self, program: Program, parents: list[str], snapshot: str | None) -> str | None:
        """Write the program's method file into the workspace; its sandbox path, or None when refused."""
        parent = (f"{', '.join(f'program {p}' for p in parents)}" + (f" (snapshot {snapshot})" if snapshot else "")
                  if parents else None)
        path = method_file(program)
        return f"/workspace/{path}" if self.write_workspace(path, render(program, parent=parent)) else None

    def evaluate(self, client: ForumClient, program: Program, origin: str, parents: list[str],
                 snapshot: str | None, timeout_s: float) -> tuple[Candidate, SubmissionReceipt | None]:
        """Run, submit and record one program (its value and receipt None when the trial or submission failed)."""
        candidate = Candidate(program=program.model_dump(), id=program.id, origin=origin, parents=parents,
                              parent_snapshot=snapshot, t=time.time())
        written = self.write_method(program, parents, snapshot)
        if written is None:
            self._record(candidate)
            return candidate, None
        predictions = self.exec_trial(["--method", written], f"{program.id} ({program.describe()})", timeout_s,
                                      {"method": method_file(program), "origin": origin, "parents": parents})
        if predictions is None:
            self._record(candidate)
            return candidate, None
        from aarlab.client import PredictionsFileError

        try:
            receipt = self.submit(client, method_name(program), predictions)
        except PredictionsFileError as err:
            self.journal.event("refused", path="predictions.jsonl", reason=str(err))
            self._record(candidate)
            return candidate, None
        candidate.value = receipt.public_pgr if receipt.public_pgr is not None else receipt.public_transfer_acc
        candidate.submission = receipt.id
        self._receipts[candidate.id] = receipt
        self._hard[candidate.id] = hard_predictions(predictions, self.layout.workspace)
        self._record(candidate)
        return candidate, receipt

    def learns_from_teacher(self, candidate: Candidate, timeout_s: float) -> bool:
        """Run the candidate's program on shuffled weak labels (not submitted) and record the agreement of the two
        runs' hard predictions; False when it ignores the teacher. A baseline, a candidate whose predictions this
        process does not hold, or a control run that fails is not judged (True)."""
        real = self._hard.get(candidate.id)
        if candidate.origin == "baseline" or not real or timeout_s < 5:
            return True
        program = Program.model_validate(candidate.program)
        path = self.exec_trial(["--method", f"/workspace/{method_file(program)}", "--weak-labels", "shuffled"],
                               f"{program.id} on shuffled weak labels (the label-dependence control)", timeout_s,
                               {"method": method_file(program), "weak_labels": "shuffled"},
                               out_name=SHUFFLED_PREDICTIONS)
        agreement = None if path is None else hard_agreement(real, hard_predictions(path, self.layout.workspace))
        if agreement is None:
            return True
        candidate.shuffled_agreement = round(agreement, 4)
        self._write(candidate)
        if candidate.ignores_teacher:
            self.log(f"program {program.id}: {agreement:.0%} of its test predictions are the same on shuffled weak "
                     "labels -- it does not learn from the teacher; not posted, not a parent")
            self.journal.event("ignores-teacher", program=program.id, agreement=candidate.shuffled_agreement)
        return not candidate.ignores_teacher

    def publish_program(self, client: ForumClient, candidate: Candidate, receipt: SubmissionReceipt,
                        nominated: bool = False) -> None:
        """Post a new best (or, ``nominated``, the agent's pick at its end): the program, its file, where it started
        from, its receipt and its snapshot."""
        program = Program.model_validate(candidate.program)
        started = (f"It started from {', '.join(f'program `{p}`' for p in candidate.parents)}"
                   + (f" of snapshot `{candidate.parent_snapshot}`" if candidate.parent_snapshot else "")
                   + f" ({candidate.origin})." if candidate.parents else "It is a starting point of the search.")
        reached = "its receipt shows the top public level," if nominated else "reached"
        body = (f"Evolved method on `{self.dataset}`: program `{program.id}` -- {program.describe()} -- {reached} "
                f"public PGR {receipt.public_pgr} (public accuracy {receipt.public_transfer_acc}). {started}\n\n"
                f"The method file is `{method_file(program)}` in the snapshot (the plug-in API: run it with "
                f"`aarlab w2s run --method {method_file(program)}`).\n\n"
                f"```json\n{json.dumps({'program': candidate.program, 'parents': candidate.parents})}\n```\n")
        title = f"{self.dataset}: {program.describe()} -> public PGR {receipt.public_pgr}"
        if nominated:  # its receipt repeats the level another program set: the post claims no score of its own
            body = ("Nominated for promotion at the end of the search: the latest of the new programs at the top "
                    f"public level (public PGR {receipt.public_pgr}, which the Ladder did not separate them at). "
                    "Unless it set that level itself, the score the forum verifies for this post is the starting "
                    "level: only the promotion's private re-run says how good it is.\n\n" + body)
            title = (f"{self.dataset}: nominated for promotion: {program.describe()} (at the top public level, "
                     f"PGR {receipt.public_pgr}; not separated by the Ladder)")
        tags = ["evolve", self.dataset] + (["builds-on-forum"] if candidate.origin.startswith("migrant") else []) \
            + (["nominated"] if nominated else [])
        candidate.snapshot = self.post_result(client, title, body, tags, receipt, program.describe(),
                                              parent=candidate.parent_snapshot)
        if candidate.snapshot is not None:
            self._write(candidate)  # the snapshot, once known

    def read_migrants(self, client: ForumClient) -> None:
        """Take other agents' posted programs (verified scores only) as migrants."""
        cursor = int(self.cursor_file.read_text()) if self.cursor_file.is_file() else 0
        call = self.journal.call("forum_search", {"since": cursor})
        started = time.monotonic()
        posts, cursor = client.sync(cursor)
        self.cursor_file.write_text(str(cursor))
        new = 0
        for post in posts:
            if post.kind != "result" or post.author == self.layout.name or post.verified_public_pgr is None:
                continue
            program = program_of_post(post)  # a program runs on any dataset: migrants come from all of them
            if program is not None:
                self.migrants.append(Migrant(program, post.author, float(post.verified_public_pgr), post.id,
                                             post.snapshot_id, post.verified_dataset))
                new += 1
        best = self._migrant()
        outcome = f"{len(posts)} new or changed posts; {new} programs of other agents" + (
            f"; best {best.program.id} by {best.author} (verified public PGR {best.score})" if best else "")
        self.journal.result(call, "forum_search", outcome, duration_s=time.monotonic() - started)

    # -- the loop -----------------------------------------------------------------------------------------
    def run(self) -> int:  # type: ignore[override]
        """Evolve until the deadline or a budget; returns the number of candidates this process evaluated."""
        best = self.best()
        best_value = best.value if best and best.value is not None else float("-inf")
        self.log(f"{self.assignment.direction}; {len(self.population)} trials done before, best {best_value}")
        self.journal.state("running", f"{len(self.population)} trials done before")
        ran = 0
        final, reason = "done", "the deadline passed"
        with self._client() as client:
            while (left := self.assignment.deadline - time.time()) > 5:
                stop = self.must_stop()
                if stop is not None:
                    final, reason = stop
                    break
                program, origin, parents, snapshot = self.propose()
                try:
                    candidate, receipt = self.evaluate(client, program, origin, parents, snapshot,
                                                       min(left, self.assignment.trial_timeout_s))
                except BudgetExhausted as err:
                    final, reason = "budget_exhausted", str(err)
                    self.log(f"stopping: {err}")
                    break
                ran += 1
                self.log(f"candidate {program.id} ({origin}): {program.describe()} -> public PGR {candidate.value}")
                if (receipt is not None and candidate.value is not None and candidate.value > best_value
                        and self.learns_from_teacher(candidate, min(self.assignment.deadline - time.time(),
                                                                    self.assignment.trial_timeout_s))):
                    best_value = candidate.value
                    self.publish_program(client, candidate, receipt)
                if ran % FORUM_EVERY == 0:
                    self.read_migrants(client)
            self.nominate(client)
        if self._control is not None:
            self._control.close()
        self.journal.state(final, reason)
        self.log(f"done: {ran} candidates this run, best public PGR {best_value}")
        return ran

    def nominate(self, client: ForumClient) -> None:
        """At the end: post the agent's best *new* program (not a retuned baseline; among equal public scores the
        latest, the most evolved) unless it is posted already, so it is linked to a snapshot and can be promoted
        for a clean private re-run -- with a frozen Ladder no new program ever becomes a public record."""
        from aarlab.agents.evolve._program import retune_of

        new = [c for c in self.population if c.value is not None and c.submission is not None
               and retune_of(Program.model_validate(c.program)) is None and not c.ignores_teacher]
        for _ in range(NOMINATION_CHECKS):  # the latest at the top score that learns from the teacher
            if not new:
                return
            top = max(c.value or 0.0 for c in new)
            chosen = max((c for c in new if c.value == top), key=lambda c: c.t)
            if chosen.snapshot is not None or chosen.shuffled_agreement is not None or self.learns_from_teacher(
                    chosen, min(max(0.0, self.assignment.deadline + NOMINATION_GRACE_S - time.time()),
                                self.assignment.trial_timeout_s)):
                break
            new.remove(chosen)
        else:
            return
        if chosen.snapshot is not None:
            return
        receipt = self._receipts.get(chosen.id)
        if receipt is None:
            return
        from aarlab.client import ScoringError

        self.log(f"nominating program {chosen.id} (public PGR {chosen.value}) for promotion")
        try:
            self.publish_program(client, chosen, receipt, nominated=True)
        except ScoringError as err:  # the end of the run: say so, do not crash into a restart
            self.log(f"could not post the nomination: {err}")


def main(argv: list[str] | None = None) -> int:
    """``python -m aarlab.agents.evolve --state DIR --agent NAME``."""
    return agent_main(EvolveAgent, "aarlab.agents.evolve", argv)


def nominee(state: Path) -> tuple[float, str, Candidate, dict[str, float]] | None:
    """The best new program of an evolve campaign (not a retuned baseline, not seen to ignore the teacher; among
    equal public scores the latest, the agents' end-of-run nomination): (public PGR, agent, candidate, each agent's
    vanilla public PGR); None when no agent has a scored new program."""
    from aarlab.agents.evolve._program import retune_of

    best: tuple[float, str, Candidate] | None = None
    vanilla: dict[str, float] = {}
    for agent_dir in sorted((state / "agents").glob("*")):
        for candidate in read_population(agent_dir / POPULATION):
            program = Program.model_validate(candidate.program)
            if candidate.value is None or candidate.ignores_teacher:
                continue
            if retune_of(program) == "vanilla" and candidate.origin == "baseline":
                vanilla[agent_dir.name] = candidate.value
            elif retune_of(program) is None and (best is None or (candidate.value, candidate.t)
                                                 >= (best[0], best[2].t)):
                best = (candidate.value, agent_dir.name, candidate)  # among equal scores the latest: the nominee
    return None if best is None else (*best, vanilla)


def findings(state: Path, promoting: bool = False) -> list[str]:
    """What an evolve campaign found, in a few lines: the best new program (:func:`nominee`) against vanilla, with
    the file that holds it; [] when no agent has a scored new program. ``promoting``: the campaign's end promotes
    it (``--promote-best``), so the lines say so instead of how to."""
    found = nominee(state)
    if found is None:
        return []
    value, agent, candidate, vanilla = found
    program = Program.model_validate(candidate.program)
    file = state / "agents" / agent / "workspace" / method_file(program)
    promote = ("its clean re-run on the private split with held-out datasets follows" if promoting else
               "promote it for a clean re-run on the private split with held-out datasets (`aarlab promote "
               "SUBMISSION_ID --state STATE`, docs/promotion.md)") \
        + (f"; its submission: {candidate.submission}" if candidate.submission else "")
    if agent in vanilla and value <= vanilla[agent]:
        tried = sum(1 for _ in state.glob("agents/*/workspace/methods/evolved-*.py"))
        return [f"no new method moved a public score above its agent's vanilla ({tried} method files written; "
                "public scores are a Ladder that moves only by a step and freezes once an agent's information "
                "budget is spent, docs/scoring.md)",
                f"nominated new method at the top score: {agent}'s program {program.id} -- {program.describe()} -- "
                f"public PGR {value:.2f} (vanilla {vanilla[agent]:.2f}); file: {file}; {promote}"]
    against = f" (its vanilla: {vanilla[agent]:.2f})" if agent in vanilla else ""
    ignoring = sum(c.ignores_teacher for a in (state / "agents").glob("*") for c in read_population(a / POPULATION))
    if ignoring:
        promote += (f"; {ignoring} program(s) were set aside because their predictions hardly changed on shuffled "
                    "weak labels (they do not learn from the teacher)")
    return [f"best new method: {agent}'s program {program.id} -- {program.describe()} -- public PGR {value:.2f}"
            f"{against}; file: {file}",
            f"public scores select, they do not prove: {promote}"]
