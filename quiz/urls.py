from django.urls import path

from quiz.views import participant, staff, stats

app_name = "quiz"

urlpatterns = [
    path("", participant.home, name="home"),
    path("quiz/<slug:slug>/", participant.start, name="start"),
    path("quiz/<slug:slug>/round/", participant.current_round, name="round"),
    path("quiz/<slug:slug>/round/<str:token>/", participant.submit_round, name="submit"),
    path("quiz/<slug:slug>/round/<str:token>/result/", participant.round_result, name="result"),
    path("quiz/<slug:slug>/done/", participant.session_done, name="done"),
    path("quiz/<slug:slug>/score/<uuid:token>/", participant.held_back_score, name="score"),
    path("quiz/<slug:slug>/panel/<str:token>.png", participant.panel_image, name="panel"),
    path(
        "quiz/<slug:slug>/panel/<str:token>/full.png", participant.viewer_image, name="panel_full"
    ),
    path("stats/<slug:slug>/", stats.study_stats, name="stats"),
    path("stats/<slug:slug>/report.json", stats.report_json, name="report_json"),
    path("stats/<slug:slug>/trials.csv", stats.trials_csv, name="trials_csv"),
    path("stats/<slug:slug>/participants.csv", stats.participants_csv, name="participants_csv"),
    path(
        "stats/<slug:slug>/dataset_description.json",
        stats.metadata_json,
        name="metadata_json",
    ),
    path("staff/images/<int:pk>.png", staff.image_file, name="staff_image"),
    path("staff/images/<int:pk>/mask.png", staff.image_mask, name="staff_image_mask"),
    path("staff/images/<int:pk>/source.png", staff.image_source, name="staff_image_source"),
    path("staff/runs/<int:pk>/progress.json", staff.run_progress, name="run_progress"),
    path("staff/runs/<int:pk>/samples.png", staff.run_samples, name="run_samples"),
    path("staff/studies/<int:pk>/pilot/", staff.take_as_pilot, name="take_as_pilot"),
    path(
        "staff/studies/<int:pk>/near-copies/",
        staff.study_near_copies,
        name="study_near_copies",
    ),
]
