"""Pages of the compliance catalogs: the frameworks, and one framework's requirement tree with its 800-53 links.

Read-only: catalogs change only through ``manage.py load_catalogs``. Compliance officers, security admins,
auditors and admins read them (``COMPLIANCE_ROLES``); managers do not.
"""

from django.http import Http404
from django.views.generic import TemplateView

from compliance.choices import Implementation
from compliance.selectors import (
    framework_get,
    framework_list,
    framework_version,
    framework_versions,
    requirement_tree,
)
from compliance.services.catalogs import HUB_SLUG
from portal.access import RoleRequiredMixin
from portal.choices import COMPLIANCE_ROLES

# Bootstrap colour of the badge for Required and Addressable.
IMPLEMENTATION_BADGES = {Implementation.REQUIRED: "danger", Implementation.ADDRESSABLE: "warning"}


class FrameworkListView(RoleRequiredMixin, TemplateView):
    """The frameworks with their newest catalog version and what it holds."""

    allowed_roles = COMPLIANCE_ROLES
    template_name = "compliance/framework_list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(frameworks=framework_list(), hub_slug=HUB_SLUG, **kwargs)


class FrameworkDetailView(RoleRequiredMixin, TemplateView):
    """One framework's requirement tree (its newest version, or ``?version=N``) with each row's 800-53 links."""

    allowed_roles = COMPLIANCE_ROLES
    template_name = "compliance/framework_detail.html"

    def get_context_data(self, **kwargs):
        number = self.request.GET.get("version")
        if number is not None and not number.isdigit():
            raise Http404("No such version.")
        version = framework_version(slug=self.kwargs["slug"], number=int(number) if number else None)
        framework = version.framework if version else framework_get(slug=self.kwargs["slug"])
        context = super().get_context_data(
            framework=framework, version=version, hub_slug=HUB_SLUG, is_hub=framework.slug == HUB_SLUG,
            badge=IMPLEMENTATION_BADGES, **kwargs,
        )
        if version is not None:
            context.update(
                requirements=requirement_tree(version=version), versions=list(framework_versions(framework=framework))
            )
        return context
