from django.apps import AppConfig


class QuizConfig(AppConfig):
    name = "quiz"
    verbose_name = "Real or Synthetic?"

    def ready(self) -> None:
        # Every kind of background job, for the door (quiz.jobs) that announces, claims and runs
        # them: the door itself knows none, so no room's work is imported by the web process.
        from quiz import jobs
        from quiz.models import (
            EvaluationJob,
            GenerationJob,
            GeneratorImport,
            IngestJob,
            LeakAudit,
            TrainingRun,
        )

        jobs.register(
            IngestJob, task="quiz.tasks.ingest_upload", work="quiz.ingest.pipeline.ingest_upload"
        )
        jobs.register(
            GeneratorImport,
            task="quiz.tasks.import_synthetic",
            work="quiz.ingest.synthetic.import_synthetic",
        )
        jobs.register(
            TrainingRun,
            task="quiz.tasks.train_run",
            work="quiz.jobs.gan.train",
            then="quiz.jobs.gan.evaluate_when_trained",
        )
        jobs.register(
            GenerationJob, task="quiz.tasks.generate_images", work="quiz.jobs.gan.generate"
        )
        jobs.register(EvaluationJob, task="quiz.tasks.evaluate_run", work="quiz.jobs.gan.evaluate")
        jobs.register(
            LeakAudit, task="quiz.tasks.audit_study", work="quiz.integrity.leak_audit.audit"
        )
        # A study's panel size follows its images, whichever door changes them.
        from django.db.models.signals import m2m_changed

        from quiz.models import Study
        from quiz.studies.panels import images_changed

        for relation in (Study.images, Study.practice_images, Study.catch_images):
            m2m_changed.connect(
                images_changed, sender=relation.through, dispatch_uid=f"panel-size-{relation}"
            )
