from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``{{ counts|get_item:person.pk }}``: look a key up in a dict; 0 when absent."""
    return mapping.get(key, 0)
