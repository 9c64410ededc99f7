#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.
"""Run a program from a test: an argument list, never a shell."""

import subprocess


class CommandFailed(AssertionError):
    """A program exited non-zero; ``proc`` holds its exit and output."""

    def __init__(self, cmd, proc):
        self.cmd = list(cmd)
        self.proc = proc
        super().__init__('%s exited %d\nstdout: %s\nstderr: %s' % (
            ' '.join(str(c) for c in cmd), proc.returncode, proc.stdout,
            proc.stderr))


def run(*cmd, check=True, env=None, cwd=None, timeout=None):
    """Run ``cmd``; return its stdout (text). Non-zero: CommandFailed."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout)
    if check and proc.returncode != 0:
        raise CommandFailed(cmd, proc)
    return proc.stdout
