import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** Goods received for a product (the initial stock is the first receipt): received = sum of receipts. */
@Entity({ name: 'receipts' })
export class ReceiptEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ type: 'text' })
  sku!: string;

  @Column({ type: 'integer' })
  qty!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
