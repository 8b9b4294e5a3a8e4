/** Addresses typed into one box, separated by commas, semicolons or white space. */
export const splitRecipients = (text: string): string[] => text.split(/[\s,;]+/).filter((a) => a !== '');
