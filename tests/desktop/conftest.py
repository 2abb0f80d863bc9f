from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QSettings

from desktop.kit.tasks import TaskRunner


@pytest.fixture(autouse=True)
def private_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """QSettings in a temporary folder, so tests never read or write the user's own."""
    folder = tmp_path_factory.mktemp("qsettings")
    QCoreApplication.setOrganizationName("ClinicdeskTests")
    QCoreApplication.setApplicationName("ClinicdeskTests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    return folder


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    yield tasks
    tasks.shutdown()
