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
"""Helpers every test suite shares: functional, e2e, browser, real guest.

One concern per module, none of them a test:

* :mod:`commands`: run a program (argument list), fail with its output;
* :mod:`images`: what qemu-img says of a file: info, bitmaps, allocation,
  byte-for-byte comparison;
* :mod:`guest_writes`: writes into a running disk through the QEMU
  monitor or into an image file with qemu-io, and the raw *model* of what
  the disk must then hold;
* :mod:`domains`: minimal libvirt domains (XML, start, define, destroy,
  kill, monitor), uniquely named and removed at clean-up;
* :mod:`processes`: who has a file on its command line, QEMU tools on a
  file, children, running or not (the driver's own /proc lookup);
* :mod:`stack`: the client side of the all-in-one stack of ``tools/aio``
  (its files, the ``openstack`` CLI, waiting for statuses, attachments).
"""
