// A readable HTML rendering of any partner document: every value escaped, nested objects as nested lists.
import { DOCUMENT_TITLES } from './common';
import type { NoticeType } from '../../domain/types';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** camelCase key to a label: "merchantId" -> "Merchant id". */
function label(key: string): string {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function renderValue(value: unknown): string {
  if (value === null || value === undefined) return '<span class="none">not provided</span>';
  if (typeof value === 'string') {
    // Links stay text: a partner reading a takedown notice must not be one click from the listed content.
    return escapeHtml(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return escapeHtml(String(value));
  if (Array.isArray(value)) {
    if (value.length === 0) return '<span class="none">none</span>';
    return `<ol>${value.map((v) => `<li>${renderValue(v)}</li>`).join('')}</ol>`;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return '<span class="none">none</span>';
    return `<dl>${entries.map(([k, v]) => `<dt>${escapeHtml(label(k))}</dt><dd>${renderValue(v)}</dd>`).join('')}</dl>`;
  }
  return escapeHtml(String(value));
}

export function renderDocumentHtml(document: Record<string, unknown>): string {
  const type = typeof document.documentType === 'string' ? document.documentType : 'document';
  const title = (typeof document.title === 'string' && document.title) || DOCUMENT_TITLES[type as NoticeType] || 'Document';
  const reference = (document.case as { reference?: unknown } | undefined)?.reference;
  const heading = typeof reference === 'string' ? `${title} · ${reference}` : title;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(heading)}</title>`,
    '<style>body{font:15px/1.45 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#111}',
    'dt{font-weight:600;margin-top:.4rem}dd{margin-left:1.2rem}ol{padding-left:1.4rem}.none{color:#777;font-style:italic}</style>',
    '</head><body>',
    `<h1>${escapeHtml(heading)}</h1>`,
    renderValue(document),
    '</body></html>',
    '',
  ].join('\n');
}
