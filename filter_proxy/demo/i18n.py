"""The demo search page's own labels, in the languages the warning texts ship in, so that a French visitor
gets a French page (``lang``, headings, buttons) and not English chrome around a French warning. The
warning's own headings come from its catalog (rules/warnings/<lang>.toml). The demo's intro and footer
are developer notes about placeholders and stay English (marked ``lang="en"``)."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "en": {"heading": "Demo search", "search": "Search", "results": "Results", "related": "Related searches",
           "previous": "Previous page", "next": "Next page", "no_results": "No results.",
           "about": "About {total} results", "removed": "{removed} removed from this page by the filter",
           "pages": "Pages", "new_search": "New search"},
    "fr": {"heading": "Recherche de démonstration", "search": "Rechercher", "results": "Résultats",
           "related": "Recherches associées", "previous": "Page précédente", "next": "Page suivante",
           "no_results": "Aucun résultat.", "about": "Environ {total} résultats",
           "removed": "{removed} retirés de cette page par le filtre", "pages": "Pages",
           "new_search": "Nouvelle recherche"},
    "de": {"heading": "Demo-Suche", "search": "Suchen", "results": "Ergebnisse", "related": "Ähnliche Suchen",
           "previous": "Vorherige Seite", "next": "Nächste Seite", "no_results": "Keine Ergebnisse.",
           "about": "Etwa {total} Ergebnisse", "removed": "{removed} vom Filter von dieser Seite entfernt",
           "pages": "Seiten", "new_search": "Neue Suche"},
    "es": {"heading": "Búsqueda de demostración", "search": "Buscar", "results": "Resultados",
           "related": "Búsquedas relacionadas", "previous": "Página anterior", "next": "Página siguiente",
           "no_results": "No hay resultados.", "about": "Unos {total} resultados",
           "removed": "{removed} retirados de esta página por el filtro", "pages": "Páginas",
           "new_search": "Nueva búsqueda"},
    "pt": {"heading": "Pesquisa de demonstração", "search": "Pesquisar", "results": "Resultados",
           "related": "Pesquisas relacionadas", "previous": "Página anterior", "next": "Página seguinte",
           "no_results": "Sem resultados.", "about": "Cerca de {total} resultados",
           "removed": "{removed} removidos desta página pelo filtro", "pages": "Páginas",
           "new_search": "Nova pesquisa"},
    "it": {"heading": "Ricerca dimostrativa", "search": "Cerca", "results": "Risultati",
           "related": "Ricerche correlate", "previous": "Pagina precedente", "next": "Pagina successiva",
           "no_results": "Nessun risultato.", "about": "Circa {total} risultati",
           "removed": "{removed} rimossi da questa pagina dal filtro", "pages": "Pagine",
           "new_search": "Nuova ricerca"},
    "nl": {"heading": "Demozoekmachine", "search": "Zoeken", "results": "Resultaten",
           "related": "Gerelateerde zoekopdrachten", "previous": "Vorige pagina", "next": "Volgende pagina",
           "no_results": "Geen resultaten.", "about": "Ongeveer {total} resultaten",
           "removed": "{removed} door het filter van deze pagina verwijderd", "pages": "Pagina's",
           "new_search": "Nieuwe zoekopdracht"},
    "pl": {"heading": "Wyszukiwarka demonstracyjna", "search": "Szukaj", "results": "Wyniki",
           "related": "Podobne wyszukiwania", "previous": "Poprzednia strona", "next": "Następna strona",
           "no_results": "Brak wyników.", "about": "Około {total} wyników",
           "removed": "{removed} usunięto z tej strony przez filtr", "pages": "Strony",
           "new_search": "Nowe wyszukiwanie"},
}


def labels(lang: str) -> tuple[str, dict[str, str]]:
    """(language used, labels) for a language the warning catalog chose; English when the demo lacks it."""
    base = lang.split("-")[0]
    for candidate in (lang, base):
        if candidate in LABELS:
            return candidate, LABELS[candidate]
    return "en", LABELS["en"]
