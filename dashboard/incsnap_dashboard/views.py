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
"""The revert dialog, and the snapshot page's chain facts.

The dialog (:class:`RevertView`) asks Cinder for the volume and its
snapshots when it opens and again when it is confirmed: what the table
showed may be stale (the volume attached since, a newer snapshot taken).
When Cinder would refuse, the dialog says why and offers no confirmation.
"""

import logging

from django.urls import reverse
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from horizon import exceptions
from horizon import forms
from horizon import messages
from horizon.utils import memoized

from openstack_dashboard.api import cinder
from openstack_dashboard.dashboards.project.snapshots import \
    tabs as snap_tabs

from incsnap_dashboard import api
from incsnap_dashboard import chain

LOG = logging.getLogger(__name__)
INDEX_URL = 'horizon:project:snapshots:index'


class RevertForm(forms.SelfHandlingForm):
    snapshot_id = forms.CharField(widget=forms.HiddenInput())

    def clean(self):
        data = super().clean()
        try:
            volume, snapshot, reason = api.revert_check(
                self.request, data.get('snapshot_id'))
        except Exception:
            raise forms.ValidationError(
                _('Unable to retrieve the snapshot and its volume.'))
        if reason:
            raise forms.ValidationError(reason)
        data['volume'] = volume
        data['snapshot'] = snapshot
        return data

    def handle(self, request, data):
        volume, snapshot = data['volume'], data['snapshot']
        try:
            api.revert(request, volume.id, snapshot.id)
        except Exception as exc:
            LOG.warning('revert of volume %s to snapshot %s refused: %s',
                        volume.id, snapshot.id, exc)
            exceptions.handle(
                request, _('Cinder refused to revert volume %(vol)s to '
                           'snapshot %(snap)s: %(why)s')
                % {'vol': volume.id, 'snap': snapshot.label, 'why': exc})
            return False
        messages.success(
            request, _('Reverting volume %(vol)s to snapshot %(snap)s.')
            % {'vol': volume.id, 'snap': snapshot.label})
        return True


class RevertView(forms.ModalFormView):
    form_class = RevertForm
    form_id = 'incsnap_revert_form'
    modal_id = 'incsnap_revert_modal'
    template_name = 'incsnap_dashboard/revert.html'
    submit_label = _('Revert Volume')
    submit_url = 'horizon:project:snapshots:incsnap_revert'
    success_url = reverse_lazy(INDEX_URL)
    page_title = _('Revert Volume to Snapshot')

    @memoized.memoized_method
    def check(self):
        try:
            return api.revert_check(self.request, self.kwargs['snapshot_id'])
        except Exception:
            exceptions.handle(self.request,
                              _('Unable to retrieve the snapshot.'),
                              redirect=reverse(INDEX_URL))

    def submit_args(self):
        return (self.kwargs['snapshot_id'],)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        volume, snapshot, reason = self.check()
        context.update(volume=volume, snapshot=snapshot, refusal=reason,
                       submit_url=reverse(self.submit_url,
                                          args=self.submit_args()))
        if reason:
            # Nothing to confirm: the dialog only says why.
            context['cancel_label'] = _('Close')
        return context

    def get_initial(self):
        return {'snapshot_id': self.kwargs['snapshot_id']}


class RevertVolumeView(RevertView):
    """The dialog from the volume's row: its newest snapshot."""

    submit_url = 'horizon:project:volumes:incsnap_revert'
    success_url = reverse_lazy('horizon:project:volumes:index')

    @memoized.memoized_method
    def check(self):
        try:
            return api.volume_revert_check(self.request,
                                           self.kwargs['volume_id'])
        except Exception:
            exceptions.handle(self.request,
                              _('Unable to retrieve the volume.'),
                              redirect=reverse(
                                  'horizon:project:volumes:index'))

    def submit_args(self):
        return (self.kwargs['volume_id'],)

    def get_initial(self):
        _volume, snapshot, _reason = self.check()
        return {'snapshot_id': snapshot.id if snapshot else ''}


class OverviewTab(snap_tabs.OverviewTab):
    """Horizon's snapshot overview, then the snapshot's chain facts."""

    template_name = 'incsnap_dashboard/_detail_overview.html'

    def get_context_data(self, request):
        context = super().get_context_data(request)
        snapshot = context['snapshot']
        info = chain.chain_info(getattr(snapshot, 'metadata', None))
        context['chain'] = info
        context['parent_name'] = None
        if info.parent:
            try:
                context['parent_name'] = cinder.volume_snapshot_get(
                    request, info.parent).name
            except Exception:
                # Deleted (an incremental keeps its parent's file), or
                # not visible: the id stays, still a link.
                LOG.debug('parent snapshot %s not found', info.parent)
        context['progress'] = chain.progress(api.fields(snapshot))
        return context
