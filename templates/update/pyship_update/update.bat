@echo off
rem The update helper of a Windows bundle, started (without a window) by
rem pyship_update.apply() with its settings in the environment:
rem   PYSHIP_ROOT  the app folder           PYSHIP_STAGE  its .pyship-update\
rem   PYSHIP_MODE  portable or installer    PYSHIP_TAG    the new release's tag
rem   PYSHIP_NEW   the unpacked new bundle (portable)
rem   PYSHIP_SETUP the new setup.exe (installer)
rem   PYSHIP_PID   the app's process        PYSHIP_PORT   the app's port, or empty
rem   PYSHIP_ARCHIVE the downloaded zip or setup.exe (removed however the update ends)
rem   PYSHIP_LAUNCHER vbs or pythonw        PYSHIP_MODULE the app's module
rem It waits for the app to exit. Portable: renames each entry of entries.txt
rem (app\, python\, scripts\, ...) to .old, moves the new one in, starts the
rem app through its launcher and checks that it comes up (helper.py); if it
rem does not, it restores the .old entries and starts the old version again,
rem otherwise it deletes them. Installer: runs setup.exe /S /D=<app folder>,
rem then starts the app. data\ and logs\ are never in entries.txt.
setlocal
call :main >>"%PYSHIP_STAGE%\update.log" 2>&1
set "RC=%ERRORLEVEL%"
call :cleanup
exit /b %RC%

rem The unpacked and the downloaded new version go however the update ends
rem (a retry downloads again), then the lock: called before the last log
rem line, so whoever waits for that line finds the update finished.
:cleanup
call :remove "%PYSHIP_STAGE%\new"
if exist "%PYSHIP_ARCHIVE%" del /f /q "%PYSHIP_ARCHIVE%" >nul 2>&1
del /q "%PYSHIP_STAGE%\swapped.txt" >nul 2>&1
del /q "%PYSHIP_STAGE%\lock" >nul 2>&1
exit /b 0

:main
echo [%DATE% %TIME%] update of "%PYSHIP_ROOT%" to %PYSHIP_TAG% (%PYSHIP_MODE%)
if /i "%PYSHIP_MODE%"=="installer" goto installer
if /i "%PYSHIP_MODE%"=="msi" goto installer

"%PYSHIP_NEW%\python\python.exe" -I "%PYSHIP_STAGE%\helper.py" wait-exit
if errorlevel 2 (
    call :cleanup
    echo the new version's interpreter could not run the helper ^(exit status %ERRORLEVEL%^); nothing was changed
    exit /b 1
)
if errorlevel 1 (
    call :cleanup
    echo the app did not exit; nothing was changed
    exit /b 1
)
type nul >"%PYSHIP_STAGE%\swapped.txt"
set "FAILED="
for /f "usebackq delims=" %%e in ("%PYSHIP_STAGE%\entries.txt") do call :swap_one "%%e"
if defined FAILED (
    echo could not swap %FAILED%; restoring the old version
    call :restore
    call :launch
    call :cleanup
    echo restored the old version and started it again
    exit /b 1
)
echo swapped; starting the new version
call :launch
"%PYSHIP_ROOT%\python.old\python.exe" -I "%PYSHIP_STAGE%\helper.py" wait-up
if errorlevel 1 goto rollback
for /f "usebackq delims=" %%e in ("%PYSHIP_STAGE%\swapped.txt") do call :remove "%PYSHIP_ROOT%\%%~e.old"
call :cleanup
echo updated to %PYSHIP_TAG%
exit /b 0

:rollback
echo the new version did not come up; rolling back
call :restore
call :launch
call :cleanup
echo rolled back; the old version was started again
exit /b 1

:installer
"%PYSHIP_ROOT%\python\python.exe" -I "%PYSHIP_STAGE%\helper.py" wait-exit
if errorlevel 2 (
    call :cleanup
    echo the installed interpreter could not run the helper ^(exit status %ERRORLEVEL%^); nothing was changed
    exit /b 1
)
if errorlevel 1 (
    call :cleanup
    echo the app did not exit; nothing was changed
    exit /b 1
)
if /i "%PYSHIP_MODE%"=="msi" goto run_msi
rem /D= must come last and unquoted.
start "" /wait "%PYSHIP_SETUP%" /S /D=%PYSHIP_ROOT%
goto ran_setup
:run_msi
rem The package knows its folder (and replaces the installed version).
start "" /wait "%SystemRoot%\System32\msiexec.exe" /i "%PYSHIP_SETUP%" /qn
:ran_setup
if errorlevel 1 (
    call :launch
    call :cleanup
    echo setup failed with exit code %ERRORLEVEL%; started the installed version again
    exit /b 1
)
echo installed; starting the new version
call :launch
"%PYSHIP_ROOT%\python\python.exe" -I "%PYSHIP_STAGE%\helper.py" wait-up
if errorlevel 1 (
    call :cleanup
    echo the new version did not come up
    exit /b 1
)
call :cleanup
echo updated to %PYSHIP_TAG%
exit /b 0

:swap_one
if defined FAILED exit /b 1
call :remove "%PYSHIP_ROOT%\%~1.old"
if exist "%PYSHIP_ROOT%\%~1" (
    move /y "%PYSHIP_ROOT%\%~1" "%PYSHIP_ROOT%\%~1.old" >nul
    if errorlevel 1 (
        set "FAILED=%~1"
        exit /b 1
    )
)
>>"%PYSHIP_STAGE%\swapped.txt" echo %~1
move /y "%PYSHIP_NEW%\%~1" "%PYSHIP_ROOT%\%~1" >nul
if errorlevel 1 set "FAILED=%~1"
exit /b 0

:restore
for /f "usebackq delims=" %%e in ("%PYSHIP_STAGE%\swapped.txt") do call :restore_one "%%e"
exit /b 0

:restore_one
call :remove "%PYSHIP_ROOT%\%~1"
if exist "%PYSHIP_ROOT%\%~1.old" move /y "%PYSHIP_ROOT%\%~1.old" "%PYSHIP_ROOT%\%~1" >nul
exit /b 0

:remove
if exist "%~1\" (
    rd /s /q "%~1"
) else if exist "%~1" (
    del /f /q "%~1"
)
exit /b 0

:launch
if /i "%PYSHIP_LAUNCHER%"=="pythonw" (
    start "" /d "%PYSHIP_ROOT%" "%PYSHIP_ROOT%\python\pythonw.exe" -m %PYSHIP_MODULE%
) else (
    start "" /d "%PYSHIP_ROOT%" "%SystemRoot%\System32\wscript.exe" "%PYSHIP_ROOT%\scripts\start-hidden.vbs"
)
exit /b 0
