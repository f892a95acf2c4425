"""The record of everything, one module per concern; `from quiz.models import X` reaches them all.

- jobs: what every background job's row records (status, lease, attempts);
- datasets: datasets of real scans, their images (real and synthetic) and ingest jobs;
- generators: generators (trained here or elsewhere), training runs, generation and evaluation
  jobs;
- studies: the protocol, the panels rendered at publish, the leak audit;
- sessions: participants, their rounds and guesses (the trials).

All models stay in the one `quiz` app, so their tables keep their names.
"""

from quiz.models.datasets import (
    GENERATED,
    LOSSY_FORMATS,
    CropOrigin,
    Dataset,
    Image,
    ImageKind,
    ImageProfile,
    IngestJob,
    Review,
    Split,
    split_rank,
)
from quiz.models.generators import (
    EvaluationJob,
    GenerationJob,
    Generator,
    GeneratorImport,
    TrainingRun,
)
from quiz.models.jobs import Job, JobStatus
from quiz.models.sessions import (
    Answer,
    Expertise,
    Guess,
    Participant,
    Round,
    RoundPanel,
    SessionState,
)
from quiz.models.studies import (
    DEFAULT_CONSENT,
    DEFAULT_EQUIVALENCE_MARGIN,
    DEFAULT_RATING_POINTS,
    PANEL_LETTERS,
    RATING_POINTS,
    CountedSessions,
    Feedback,
    Layout,
    LeakAudit,
    Reveal,
    Study,
    StudyPanel,
)

__all__ = [
    "DEFAULT_CONSENT",
    "DEFAULT_EQUIVALENCE_MARGIN",
    "DEFAULT_RATING_POINTS",
    "PANEL_LETTERS",
    "RATING_POINTS",
    "Answer",
    "CountedSessions",
    "CropOrigin",
    "Dataset",
    "EvaluationJob",
    "Expertise",
    "Feedback",
    "GenerationJob",
    "Generator",
    "GeneratorImport",
    "Guess",
    "Image",
    "GENERATED",
    "LOSSY_FORMATS",
    "ImageKind",
    "ImageProfile",
    "IngestJob",
    "Job",
    "JobStatus",
    "Layout",
    "LeakAudit",
    "Participant",
    "Reveal",
    "Review",
    "Round",
    "RoundPanel",
    "SessionState",
    "Split",
    "Study",
    "StudyPanel",
    "TrainingRun",
    "split_rank",
]
