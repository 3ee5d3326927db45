"""The console's words, French first (English switchable), and numbers and dates in each convention.

French: decimal comma, a narrow no-break space between thousands, dates as 07/12/2026 18:05 (local
time, the gateway's [alerts] utc_offset_s). English: 12.5, 1,234, 2026-12-07 18:05. A missing English
word falls back to the French one, never to the key.
"""
from __future__ import annotations

import time

from gateway import faults

LANGUAGES = ("fr", "en")

WORDS: dict[str, tuple[str, str]] = {
    "overview": ("Vue d'ensemble", "Overview"),
    "map": ("Carte", "Map"),
    "lamps": ("Lampes", "Lamps"), "lamp": ("Lampe", "Lamp"),
    "alerts": ("Alertes", "Alerts"),
    "reports": ("Rapports", "Reports"),
    "users": ("Utilisateurs", "Users"),
    "audit": ("Journal", "Audit log"),
    "labels": ("Étiquettes QR", "QR labels"),
    "login": ("Connexion", "Log in"),
    "logout": ("Déconnexion", "Log out"),
    "user": ("Utilisateur", "User"),
    "password": ("Mot de passe", "Password"),
    "bad_login": ("Nom ou mot de passe incorrect.", "Wrong name or password."),
    "too_many": ("Trop d'essais : réessayez dans 15 minutes.", "Too many attempts: try again in 15 minutes."),
    "lit": ("allumée", "lit"), "dimmed": ("atténuée", "dimmed"), "dark": ("éteinte", "dark"),
    "silent": ("muette", "silent"), "maintenance": ("en maintenance", "in maintenance"),
    "day": ("éteinte de jour", "off by day"), "off": ("arrêt", "off"), "never_heard": ("jamais entendue", "never heard"),
    "firing": ("ouverte", "open"), "acknowledged": ("prise en charge", "acknowledged"),
    "resolved": ("résolue", "resolved"), "silenced": ("en silence", "silenced"),
    "critical": ("critique", "critical"), "major": ("majeure", "major"), "minor": ("mineure", "minor"),
    "warning": ("avertissement", "warning"),
    "site": ("Site", "Site"), "district": ("Quartier", "District"), "crew": ("Équipe", "Crew"),
    "state": ("État", "State"), "kind": ("Type", "Kind"), "street": ("lampadaire", "street lamp"),
    "kit": ("kit sécurité", "safety kit"), "fault": ("Panne", "Fault"), "since": ("Depuis", "Since"),
    "severity": ("Gravité", "Severity"), "all": ("tous", "all"), "search": ("Rechercher", "Search"),
    "filter": ("Filtrer", "Filter"), "sort": ("Trier", "Sort"), "page": ("Page", "Page"),
    "next": ("Suivante", "Next"), "prev": ("Précédente", "Previous"),
    "open_alerts": ("Alertes ouvertes", "Open alerts"), "last_report": ("Dernier rapport", "Last report"),
    "firmware": ("Micrologiciel", "Firmware"), "profile": ("Profil", "Profile"), "battery": ("Batterie", "Battery"),
    "led": ("LED", "LED"), "pv": ("Panneau", "Panel"), "soc": ("charge", "charge"), "soh": ("santé", "health"),
    "nights": ("Nuits", "Nights"), "night": ("Nuit", "Night"), "lit_h": ("Heures allumée", "Hours lit"),
    "dark_min": ("Minutes éteinte", "Minutes dark"), "history": ("Historique", "History"),
    "downlinks": ("Commandes envoyées", "Downlinks"), "acked": ("confirmée", "acknowledged"),
    "pending": ("en attente", "pending"), "failed": ("échouée", "failed"), "cancelled": ("annulée", "cancelled"),
    "repair": ("Réparation", "Repair"), "battery_replaced": ("Batterie remplacée", "Battery replaced"),
    "led_replaced": ("LED remplacée", "LED replaced"), "test_on": ("Test allumage", "Test on"),
    "minutes": ("minutes", "minutes"), "time_sync": ("Mise à l'heure", "Time sync"),
    "ack": ("Prendre en charge", "Acknowledge"), "resolve": ("Résoudre", "Resolve"),
    "silence": ("Mettre en silence", "Silence"), "comment": ("Commentaire", "Comment"),
    "duration": ("Durée", "Duration"), "every": ("Fenêtre récurrente", "Recurring window"),
    "silences": ("Silences", "Silences"), "end_now": ("Terminer", "End now"),
    "matchers": ("Critères", "Matchers"), "by": ("Par", "By"), "when": ("Quand", "When"),
    "action": ("Action", "Action"), "detail": ("Détail", "Detail"),
    "lamps_by_state": ("Lampes par état", "Lamps by state"), "per_site": ("Par site", "By site"),
    "last_night": ("Nuit dernière", "Last night"), "lamp_nights_lit": ("nuits-lampes allumées en entier",
                                                                       "lamp-nights lit in full"),
    "none": ("aucune", "none"), "days": ("jours", "days"), "done": ("Fait.", "Done."),
    "kits_by_district": ("Kits sécurité par quartier (jamais de position)",
                         "Safety kits by district (never a position)"),
    "no_position": ("sans position", "without position"), "month": ("Mois", "Month"),
    "dark_hours": ("Heures éteintes", "Dark hours"), "faults_by_type": ("Pannes par type", "Faults by type"),
    "median_repair": ("Délai médian alerte → réparation", "Median alert → repair"),
    "download_csv": ("Télécharger CSV", "Download CSV"), "print": ("Imprimer", "Print"),
    "role": ("Rôle", "Role"), "language": ("Langue", "Language"), "add": ("Ajouter", "Add"),
    "disable": ("Désactiver", "Disable"), "disabled": ("désactivé", "disabled"),
    "not_found": ("Introuvable", "Not found"), "forbidden": ("Accès refusé", "Forbidden"),
    "queued": ("Commande en file d'attente ; la lampe la confirmera après son prochain message.",
               "Queued; the lamp acknowledges it after its next message."),
    "repair_recorded": ("Réparation notée ; l'alerte se résout au prochain rapport de la lampe.",
                        "Repair recorded; the alert resolves with the lamp's next report."),
    "live": ("en direct", "live"), "new_alert": ("Nouvelle alerte", "New alert"),
    "command": ("Commande", "Command"), "settings": ("Réglages", "Settings"), "send": ("Envoyer", "Send"),
    "result": ("Résultat", "Result"), "sent": ("Envoyée", "Sent"), "count": ("Nombre", "Count"),
    "total": ("Total", "Total"), "of": ("sur", "of"), "open_lamp_page": ("Fiche lampe", "Lamp page"),
    "position": ("Position", "Position"), "identity": ("Identité", "Identity"),
    "installed": ("Installée", "Installed"), "age": ("il y a", "ago"),
}


def word(key: str, language: str) -> str:
    pair = WORDS.get(key)
    if pair is None:
        return key
    return pair[1] if language == "en" and pair[1] else pair[0]


def fault_text(name: str, language: str) -> str:
    return faults.text(name, language) if name in faults.FAULTS else name


def number(value: float | int | None, language: str, digits: int = 0) -> str:
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    if language == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text


def when(t_s: int | None, language: str, utc_offset_s: int) -> str:
    if t_s is None:
        return "–"
    fmt = "%d/%m/%Y %H:%M" if language == "fr" else "%Y-%m-%d %H:%M"
    return time.strftime(fmt, time.gmtime(t_s + utc_offset_s))


def age(seconds: int | None, language: str) -> str:
    """'il y a 5 min' / '5 min ago'."""
    if seconds is None:
        return "–"
    seconds = max(seconds, 0)
    if seconds < 120:
        text = f"{seconds} s"
    elif seconds < 7200:
        text = f"{seconds // 60} min"
    elif seconds < 2 * 86400:
        text = f"{seconds // 3600} h"
    else:
        text = f"{seconds // 86400} j" if language == "fr" else f"{seconds // 86400} d"
    return f"il y a {text}" if language == "fr" else f"{text} ago"
