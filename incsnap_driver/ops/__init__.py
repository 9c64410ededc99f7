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
"""The driver's operations, one module each, below the Cinder glue.

An operation takes plain values (ids, paths, the availability zone,
attachments as :class:`incsnap_driver.online.Attachment`, a progress
callback) and the two objects every operation needs:

* :class:`backend.Backend`: the backend-wide settings and how to run
  commands, built once by the driver at set-up;
* :class:`volume.VolumeContext`: one volume's checked files, its chain
  store and its chain, loaded after finishing interrupted work
  (:mod:`recovery`).

The caller holds the volume's coordination lock (``nfs-<volume id>``).
A failure is one of :mod:`errors`; the driver hands its message to
Cinder. No module here knows a Cinder object.

Modules: snapshot (create one, online or offline), delete (a snapshot; a
volume's files), revert, copies (volume from snapshot, clone, extend, new
volume files), recovery (interrupted work on one volume), startup (the
scan of the shares when the service starts), volume, backend, errors.
"""
