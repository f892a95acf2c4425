"""What the admin's dataset form needs besides its files, for tests that post it as staff do."""


def dataset_form(name: str, **fields: object) -> dict[str, object]:
    """The add form's fields with their defaults and an empty ingest-job inline."""
    return {
        "name": name,
        "profile": "ultrasound",
        "held_out_share": "0.25",
        "split_seed": "0",
        "frames_per_file": "8",
        "ingest_jobs-TOTAL_FORMS": "0",
        "ingest_jobs-INITIAL_FORMS": "0",
        **fields,
    }
